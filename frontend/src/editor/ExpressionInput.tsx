// A text field that may hold `{{ expressions }}`, with a live preview against the last run's data
// and autocomplete inside `{{ }}` (names, fields, node names, filters, tests).
import { useRef, useState, type KeyboardEvent } from "react";
import { completions, previewExpression, hasExpression, type Completion, type PreviewContext } from "../lib/expressions";

interface Props {
  value: string;
  onChange: (value: string) => void;
  context: PreviewContext | null;
  label: string;
  multiline?: boolean;
  placeholder?: string;
  readOnly?: boolean;
}

export function ExpressionInput({ value, onChange, context, label, multiline, placeholder, readOnly }: Props) {
  const isExpression = hasExpression(value);
  const preview = isExpression && context ? previewExpression(value, context) : null;
  const field = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [options, setOptions] = useState<Completion[]>([]);
  const [active, setActive] = useState(0);

  const suggest = (text: string, caret: number | null) => {
    if (readOnly || caret === null) return setOptions([]);
    setOptions(completions(text.slice(0, caret), context));
    setActive(0);
  };
  const accept = (choice: Completion) => {
    const input = field.current;
    const caret = input?.selectionStart ?? value.length;
    const next = value.slice(0, caret - choice.replace) + choice.insert + value.slice(caret);
    onChange(next);
    setOptions([]);
    const at = caret - choice.replace + choice.insert.length;
    window.requestAnimationFrame(() => input?.setSelectionRange(at, at));
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (!options.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setActive((i) => (i + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length);
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      accept(options[active]);
    } else if (e.key === "Escape") {
      e.stopPropagation();
      setOptions([]);
    }
  };
  const common = {
    "aria-label": label,
    value,
    placeholder,
    readOnly,
    className: isExpression ? "expression" : undefined,
    spellCheck: false,
    "aria-autocomplete": "list" as const,
    "aria-expanded": options.length > 0,
    onKeyDown,
    onBlur: () => setOptions([]),
    onClick: () => suggest(value, field.current?.selectionStart ?? null),
  };
  const change = (text: string, caret: number | null) => {
    onChange(text);
    suggest(text, caret);
  };
  return (
    <div className="expression-field">
      {multiline ? (
        <textarea {...common} ref={field} rows={3} onChange={(e) => change(e.target.value, e.target.selectionStart)} />
      ) : (
        <input {...common} ref={field} onChange={(e) => change(e.target.value, e.target.selectionStart)} />
      )}
      {options.length > 0 && (
        <ul className="autocomplete" role="listbox" aria-label="Expression suggestions">
          {options.map((o, i) => (
            <li key={o.label} role="option" aria-selected={i === active} className={i === active ? "on" : ""}
              onMouseDown={(e) => { e.preventDefault(); accept(o); }}>
              <code>{o.label}</code>{o.detail && <span className="muted small">{o.detail}</span>}
            </li>
          ))}
        </ul>
      )}
      {isExpression && (
        <div className={`expression-preview${preview && !preview.ok ? " failed" : ""}`} data-testid={`preview-${label}`}>
          {!context ? (
            <span className="muted">Run the workflow to preview this expression.</span>
          ) : preview!.ok ? (
            <><span className="muted">Result: </span><code>{preview!.text === "" ? "(empty)" : preview!.text}</code></>
          ) : (
            <span>{preview!.error}</span>
          )}
          {context?.noRunData && <div className="muted small">Run the workflow to preview with its data.</div>}
        </div>
      )}
    </div>
  );
}
