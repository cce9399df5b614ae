// The fields of the node's input (from the last run), as chips to drag into a parameter field:
// dropping one inserts its expression, e.g. {{ json.name }}.
import type { PreviewContext } from "../lib/expressions";

export function fieldExpression(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `{{ json.${key} }}` : `{{ json[${JSON.stringify(key)}] }}`;
}

export function InputFields({ context }: { context: PreviewContext | null }) {
  const keys = Object.keys(context?.json ?? {});
  if (!keys.length) return null;
  return (
    <div className="input-fields" aria-label="Input fields">
      <span className="muted small">Input fields — drag one into a field:</span>
      {keys.slice(0, 40).map((key) => (
        <span key={key} className="chip" draggable title={fieldExpression(key)}
          onDragStart={(e) => {
            e.dataTransfer.setData("text/plain", fieldExpression(key));
            e.dataTransfer.effectAllowed = "copy";
          }}>
          {key}
        </span>
      ))}
    </div>
  );
}
