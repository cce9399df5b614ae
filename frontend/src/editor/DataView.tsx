// Items of a node's input or output, as a table or as JSON, one output at a time. Items over
// 16 KB come as references ({"$wirework_item": digest, "bytes": n}), loaded when asked for.
import { useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Item, NodeOutputs } from "../api/types";

const REF = "$wirework_item";

const MAX_ROWS = 200;

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function StoredItem({ item, executionId, onLoaded }: { item: Item; executionId?: string; onLoaded: (item: Item) => void }) {
  const [error, setError] = useState<string | null>(null);
  const size = `${(Number(item.bytes) / 1024).toFixed(0)} KB`;
  if (!executionId) return <span className="muted">Stored item ({size})</span>;
  const load = () => api.get<Item>(`executions/${executionId}/items/${String(item[REF])}`).then(onLoaded, (e) => setError(errorMessage(e)));
  return (
    <span>
      <button className="btn btn-small" onClick={() => void load()}>Load item ({size})</button>
      {error && <span className="muted"> {error}</span>}
    </span>
  );
}

export function DataView({ data, label, executionId }: { data: NodeOutputs | null | undefined; label: string; executionId?: string }) {
  const [mode, setMode] = useState<"table" | "json">("table");
  const [loaded, setLoaded] = useState<Record<string, Item>>({});
  const names = Object.keys(data ?? {}).filter((n) => !n.startsWith("$"));
  const [chosen, setChosen] = useState<string | null>(null);
  const output = chosen && names.includes(chosen) ? chosen : names[0];
  if (!data || names.length === 0) return <p className="muted">No {label.toLowerCase()} data.</p>;
  const items: Item[] = (data[output] ?? []).map((i) => (i && REF in i ? loaded[String(i[REF])] ?? i : i));
  const isRef = (i: Item) => Boolean(i && REF in i);
  const columns = [...new Set(items.slice(0, MAX_ROWS).filter((i) => !isRef(i)).flatMap((i) => Object.keys(i)))];
  return (
    <div className="data-view" data-testid={`data-${label.toLowerCase()}`}>
      <div className="data-view-head">
        {names.length > 1 ? (
          <div className="segmented" role="tablist" aria-label={`${label} output`}>
            {names.map((n) => (
              <button key={n} role="tab" aria-selected={n === output} className={n === output ? "on" : ""} onClick={() => setChosen(n)}>
                {n} ({data[n]?.length ?? 0})
              </button>
            ))}
          </div>
        ) : (
          <span className="muted small">{items.length} item{items.length === 1 ? "" : "s"}</span>
        )}
        <div className="segmented" aria-label="View">
          <button className={mode === "table" ? "on" : ""} onClick={() => setMode("table")}>Table</button>
          <button className={mode === "json" ? "on" : ""} onClick={() => setMode("json")}>JSON</button>
        </div>
      </div>
      {items.length === 0 ? (
        <p className="muted">No items.</p>
      ) : mode === "json" ? (
        <pre className="json">{JSON.stringify(items, null, 2)}</pre>
      ) : (
        <div className="data-table-wrap">
          <table className="table data-table">
            <thead><tr><th>#</th>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
            <tbody>
              {items.slice(0, MAX_ROWS).map((item, i) => (
                <tr key={i}><td className="muted">{i + 1}</td>{isRef(item)
                  ? <td colSpan={Math.max(1, columns.length)}><StoredItem item={item} executionId={executionId} onLoaded={(full) => setLoaded((old) => ({ ...old, [String(item[REF])]: full }))} /></td>
                  : columns.map((c) => <td key={c}>{cell(item[c])}</td>)}</tr>
              ))}
            </tbody>
          </table>
          {items.length > MAX_ROWS && <p className="muted small">Showing {MAX_ROWS} of {items.length} items; the JSON view has all.</p>}
        </div>
      )}
    </div>
  );
}
