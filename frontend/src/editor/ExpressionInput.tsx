// A text field that may hold `{{ expressions }}`, with a live preview against the last run's data.
import { previewExpression, hasExpression, type PreviewContext } from "../lib/expressions";

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
  const common = {
    "aria-label": label,
    value,
    placeholder,
    readOnly,
    className: isExpression ? "expression" : undefined,
    spellCheck: false,
  };
  return (
    <div className="expression-field">
      {multiline ? (
        <textarea {...common} rows={3} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...common} onChange={(e) => onChange(e.target.value)} />
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
        </div>
      )}
    </div>
  );
}
