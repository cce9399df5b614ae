// Create or replace a credential: a name, a type and secret fields (write-only: never shown again).
// The types and their fields come from the server (GET /api/v1/credentials/types): the ones the
// nodes read. "Other" keeps free fields for anything else.
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Credential, CredentialType } from "../api/types";
import { ErrorBox, Field } from "../layout/ui";

const OTHER = "";

let typesOnce: Promise<CredentialType[]> | null = null;
function loadTypes(): Promise<CredentialType[]> {
  typesOnce ??= api.get<CredentialType[]>("credentials/types").catch((e) => {
    typesOnce = null;
    throw e;
  });
  return typesOnce;
}

export function CredentialForm({ existing, type: fixedType, onSaved }: { existing?: Credential; type?: string; onSaved: (c: Credential) => void }) {
  const [types, setTypes] = useState<CredentialType[] | null>(null);
  const [name, setName] = useState(existing?.name ?? "");
  const [type, setType] = useState(existing?.type ?? fixedType ?? "http_bearer_token");
  const [values, setValues] = useState<Record<string, string>>({});
  const [custom, setCustom] = useState<[string, string][]>((existing?.fields ?? ["value"]).map((k) => [k, ""]));
  const [customType, setCustomType] = useState(existing?.type ?? "");
  const [error, setError] = useState<ApiError | Error | null>(null);

  useEffect(() => {
    loadTypes().then(setTypes, (e) => { setTypes([]); setError(e as Error); });
  }, []);

  const known = types?.find((t) => t.type === type);
  const locked = Boolean(existing || fixedType);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const data = known
      ? Object.fromEntries(Object.entries(values).filter(([, v]) => v !== ""))
      : Object.fromEntries(custom.filter(([k, v]) => k && v !== ""));
    const chosenType = known ? type : customType.trim();
    try {
      const saved = existing
        ? await api.patch<Credential>(`credentials/${existing.id}`, { name, data })
        : await api.post<Credential>("credentials", { name, type: chosenType, data });
      onSaved(saved);
    } catch (e) {
      setError(e as Error);
    }
  }

  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  if (!types) return <p className="muted">Loading…</p>;
  return (
    <form onSubmit={submit} className="form">
      <Field label="Name" error={fieldError("name")}>
        <input aria-label="Credential name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field label="Type" error={fieldError("type")} hint={known?.description}>
        <select aria-label="Credential type" value={known ? type : OTHER} disabled={locked} onChange={(e) => { setType(e.target.value); setValues({}); }}>
          {types.map((t) => <option key={t.type} value={t.type}>{t.display_name}</option>)}
          <option value={OTHER}>Other (your own fields)</option>
        </select>
      </Field>
      {!known && (
        <Field label="Type name" hint="For nodes or plugins that read a type not listed above.">
          <input aria-label="Type name" value={customType} disabled={locked} onChange={(e) => setCustomType(e.target.value)} required pattern=".*\S.*" />
        </Field>
      )}
      {existing && <p className="muted small">Saving replaces all stored values: fill every field again.</p>}
      {known ? (
        known.fields.map((f) => (
          <Field key={f.name} label={`${f.label}${f.required ? " *" : ""}`} hint={f.description || undefined}>
            {f.options.length ? (
              <select aria-label={`Value of ${f.name}`} value={values[f.name] ?? ""} onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}>
                <option value="">Default</option>
                {f.options.map((o) => <option key={o} value={o}>{o}</option>)}
              </select>
            ) : (
              <input aria-label={`Value of ${f.name}`} type={f.secret ? "password" : "text"} autoComplete={f.secret ? "new-password" : "off"} required={f.required}
                placeholder={existing ? "•••••• (type it again)" : ""} value={values[f.name] ?? ""} onChange={(e) => setValues({ ...values, [f.name]: e.target.value })} />
            )}
          </Field>
        ))
      ) : (
        <div className="field">
          <span className="field-label">Secret fields</span>
          {custom.map(([key, value], i) => (
            <div className="kv-row" key={i}>
              <input aria-label="Field name" placeholder="field" value={key} onChange={(e) => setCustom(custom.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
              <input aria-label={`Value of ${key}`} type="password" autoComplete="new-password" placeholder="value" value={value} onChange={(e) => setCustom(custom.map((r, j) => (j === i ? [r[0], e.target.value] : r)))} />
              <button type="button" className="btn-icon" aria-label="Remove field" onClick={() => setCustom(custom.filter((_, j) => j !== i))}>×</button>
            </div>
          ))}
          <button type="button" className="btn btn-small" onClick={() => setCustom([...custom, ["", ""]])}>Add field</button>
        </div>
      )}
      <span className="field-hint">Values are encrypted and never shown again.</span>
      <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
      <div className="form-actions"><button className="btn btn-primary" type="submit">Save credential</button></div>
    </form>
  );
}
