// The parameter form of a node, generated from its type's JSON schema (see lib/schemaForm.ts).
import { useState } from "react";
import type { JsonSchema } from "../api/types";
import type { PreviewContext } from "../lib/expressions";
import { coerceInput, describeSchema, setParameter, type FieldSpec } from "../lib/schemaForm";
import { ExpressionInput } from "./ExpressionInput";

interface FormProps {
  schema: JsonSchema;
  values: Record<string, unknown>;
  onChange: (values: Record<string, unknown>, key: string) => void;
  context: PreviewContext | null;
  /** Validation messages by field key ("url", "fields.name"). */
  errors?: Record<string, string>;
  readOnly?: boolean;
}

export function ParameterForm({ schema, values, onChange, context, errors = {}, readOnly }: FormProps) {
  const fields = describeSchema(schema);
  if (fields.length === 0) return <p className="muted">This node has no parameters.</p>;
  return (
    <div className="param-form">
      {fields.map((field) => (
        <FieldRow key={field.key} field={field} value={values[field.key]} error={errors[field.key]} context={context} readOnly={readOnly}
          onChange={(value) => onChange(setParameter(values, field.key, value), field.key)} />
      ))}
    </div>
  );
}

interface RowProps {
  field: FieldSpec;
  value: unknown;
  error?: string;
  context: PreviewContext | null;
  readOnly?: boolean;
  onChange: (value: unknown) => void;
}

function FieldRow({ field, value, error, context, readOnly, onChange }: RowProps) {
  const expressionValue = typeof value === "string" && value.includes("{{");
  const [forceExpression, setForceExpression] = useState(false);
  const asExpression = field.expressions && (expressionValue || forceExpression || field.kind === "condition");
  const canToggle = field.expressions && ["select", "boolean", "number", "integer", "keyvalue", "json", "stringlist", "datetime"].includes(field.kind);
  return (
    <div className={`field${error ? " field-invalid" : ""}`} data-field={field.key}>
      <div className="field-label-row">
        <span className="field-label">{field.label}{field.required && <span className="required">*</span>}</span>
        {canToggle && !readOnly && (
          <button type="button" className={`fx-toggle${asExpression ? " on" : ""}`} title="Use an expression"
            onClick={() => {
              if (asExpression) { setForceExpression(false); onChange(field.default); }
              else { setForceExpression(true); onChange(""); }
            }}>fx</button>
        )}
      </div>
      {asExpression ? (
        <ExpressionInput label={field.label} value={typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)}
          placeholder={field.placeholder ?? "{{ json.field }}"} context={context} readOnly={readOnly} onChange={(text) => onChange(text === "" ? undefined : text)} />
      ) : (
        <FixedInput field={field} value={value} context={context} readOnly={readOnly} onChange={onChange} />
      )}
      {field.description && !error && <span className="field-hint">{field.description}</span>}
      {error && <span className="field-error" role="alert">{error}</span>}
    </div>
  );
}

function FixedInput({ field, value, context, readOnly, onChange }: Omit<RowProps, "error">) {
  const shown = value ?? field.default;
  switch (field.kind) {
    case "select":
      return (
        <select aria-label={field.label} value={shown === undefined || shown === null ? "" : String(shown)} disabled={readOnly} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}>
          {(!field.required || shown === undefined) && <option value="">{field.default !== undefined ? `Default (${String(field.default)})` : "—"}</option>}
          {field.options!.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
      );
    case "boolean":
      return (
        <label className="switch">
          <input type="checkbox" aria-label={field.label} checked={Boolean(shown)} disabled={readOnly} onChange={(e) => onChange(e.target.checked)} />
          <span />
        </label>
      );
    case "number":
    case "integer":
      return (
        <input type="number" aria-label={field.label} min={field.minimum} max={field.maximum} step={field.kind === "integer" ? 1 : "any"}
          value={value === undefined || value === null ? "" : String(value)} placeholder={field.default !== undefined && field.default !== null ? String(field.default) : ""}
          readOnly={readOnly} onChange={(e) => onChange(coerceInput(field, e.target.value))} />
      );
    case "code":
      return (
        <textarea className="code" aria-label={field.label} rows={10} spellCheck={false} readOnly={readOnly}
          value={typeof value === "string" ? value : ""} placeholder={typeof field.default === "string" ? field.default : ""}
          onChange={(e) => onChange(e.target.value)} />
      );
    case "datetime":
      return <input aria-label={field.label} placeholder="2026-01-31T09:00:00Z" value={typeof value === "string" ? value : ""} readOnly={readOnly} onChange={(e) => onChange(e.target.value || undefined)} />;
    case "keyvalue":
      return <KeyValueInput field={field} value={(value ?? {}) as Record<string, unknown>} context={context} readOnly={readOnly} onChange={onChange} />;
    case "list":
      return <ListInput field={field} value={Array.isArray(value) ? (value as Record<string, unknown>[]) : []} context={context} readOnly={readOnly} onChange={onChange} />;
    case "stringlist":
      return (
        <input aria-label={field.label} placeholder="a, b, c" readOnly={readOnly} value={Array.isArray(value) ? value.join(", ") : ""}
          onChange={(e) => onChange(e.target.value.trim() ? e.target.value.split(",").map((s) => s.trim()) : undefined)} />
      );
    case "json":
      return <JsonInput label={field.label} value={value} readOnly={readOnly} onChange={onChange} />;
    default:
      return field.expressions ? (
        <ExpressionInput label={field.label} value={typeof value === "string" ? value : ""} placeholder={field.placeholder}
          context={context} readOnly={readOnly} onChange={(text) => onChange(coerceInput(field, text))} />
      ) : (
        <input aria-label={field.label} value={typeof value === "string" ? value : ""} placeholder={field.placeholder ?? (typeof field.default === "string" ? field.default : "")}
          readOnly={readOnly} onChange={(e) => onChange(coerceInput(field, e.target.value))} />
      );
  }
}

function KeyValueInput({ field, value, context, readOnly, onChange }: Omit<RowProps, "error" | "value"> & { value: Record<string, unknown> }) {
  const entries = Object.entries(value);
  const rename = (from: string, to: string) => onChange(Object.fromEntries(entries.map(([k, v]) => [k === from ? to : k, v])));
  const setValue = (key: string, text: string) => onChange({ ...value, [key]: text });
  const remove = (key: string) => onChange(Object.fromEntries(entries.filter(([k]) => k !== key)));
  const add = () => {
    let name = "field";
    for (let i = 1; name in value; i++) name = `field${i}`;
    onChange({ ...value, [name]: "" });
  };
  return (
    <div className="kv">
      {entries.map(([key, v], i) => (
        <div className="kv-row" key={i}>
          <input aria-label={`${field.label} name ${i + 1}`} value={key} readOnly={readOnly} onChange={(e) => rename(key, e.target.value)} />
          <ExpressionInput label={`${field.label} value ${i + 1}`} value={typeof v === "string" ? v : JSON.stringify(v)} context={context} readOnly={readOnly} placeholder="value or {{ json.field }}" onChange={(text) => setValue(key, text)} />
          {!readOnly && <button type="button" className="btn-icon" aria-label={`Remove ${key}`} onClick={() => remove(key)}>×</button>}
        </div>
      ))}
      {!readOnly && <button type="button" className="btn btn-small" onClick={add}>Add {field.key === "fields" ? "field" : "entry"}</button>}
    </div>
  );
}

function ListInput({ field, value, context, readOnly, onChange }: Omit<RowProps, "error" | "value"> & { value: Record<string, unknown>[] }) {
  return (
    <div className="list-input">
      {value.map((entry, i) => (
        <div className="list-entry" key={i}>
          <div className="list-entry-head">
            <span className="muted small">{field.label} {i + 1}</span>
            {!readOnly && <button type="button" className="btn-icon" aria-label={`Remove ${field.label} ${i + 1}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>×</button>}
          </div>
          {field.itemFields!.map((sub) => (
            <FieldRow key={sub.key} field={sub} value={entry[sub.key]} context={context} readOnly={readOnly}
              onChange={(v) => onChange(value.map((e, j) => (j === i ? setParameter(e, sub.key, v) : e)))} />
          ))}
        </div>
      ))}
      {!readOnly && <button type="button" className="btn btn-small" onClick={() => onChange([...value, {}])}>Add {field.label.toLowerCase().replace(/s$/, "")}</button>}
    </div>
  );
}

function JsonInput({ label, value, readOnly, onChange }: { label: string; value: unknown; readOnly?: boolean; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 2));
  const [invalid, setInvalid] = useState(false);
  return (
    <>
      <textarea className="code" aria-label={label} rows={4} value={text} readOnly={readOnly} spellCheck={false}
        onChange={(e) => {
          setText(e.target.value);
          if (!e.target.value.trim()) { setInvalid(false); onChange(undefined); return; }
          try { onChange(JSON.parse(e.target.value)); setInvalid(false); } catch { setInvalid(true); }
        }} />
      {invalid && <span className="field-error">Not valid JSON yet.</span>}
    </>
  );
}
