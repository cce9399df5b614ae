// Variables of the organization, used in expressions as {{ vars.NAME }}.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Variable, VariableType } from "../api/types";
import { Empty, ErrorBox, Field, Modal } from "../layout/ui";

const TYPES: VariableType[] = ["string", "number", "boolean", "json"];

export function VariablesPage() {
  const [items, setItems] = useState<Variable[]>([]);
  const [editing, setEditing] = useState<Variable | "new" | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setItems(await api.get<Variable[]>("variables"));
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  return (
    <div className="page">
      <header className="page-head">
        <h1>Variables</h1>
        <button className="btn btn-primary" onClick={() => setEditing("new")}>New variable</button>
      </header>
      <p className="muted">Use them in any expression as <code>{"{{ vars.NAME }}"}</code>.</p>
      <ErrorBox message={error} />
      {items.length === 0 ? (
        <Empty><p>No variables yet.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Name</th><th>Value</th><th>Type</th><th>Scope</th><th /></tr></thead>
          <tbody>
            {items.map((v) => (
              <tr key={v.id}>
                <td><code>{v.name}</code></td>
                <td className="mono ellipsis">{v.value}</td>
                <td className="muted">{v.type}</td>
                <td className="muted">{v.scope}</td>
                <td className="row-actions">
                  <button className="btn btn-small" onClick={() => setEditing(v)}>Edit</button>
                  <button className="btn btn-small btn-danger" onClick={() => confirm(`Delete variable ${v.name}?`) && void api.delete(`variables/${v.id}`).then(load, (e) => setError(errorMessage(e)))}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <Modal title={editing === "new" ? "New variable" : `Edit ${editing.name}`} onClose={() => setEditing(null)}>
          <VariableForm existing={editing === "new" ? undefined : editing} onSaved={() => { setEditing(null); void load(); }} />
        </Modal>
      )}
    </div>
  );
}

function VariableForm({ existing, onSaved }: { existing?: Variable; onSaved: () => void }) {
  const [name, setName] = useState(existing?.name ?? "");
  const [value, setValue] = useState(existing?.value ?? "");
  const [type, setType] = useState<VariableType>(existing?.type ?? "string");
  const [error, setError] = useState<ApiError | Error | null>(null);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      if (existing) await api.patch(`variables/${existing.id}`, { name, value, type });
      else await api.post("variables", { name, value, type });
      onSaved();
    } catch (e) {
      setError(e as Error);
    }
  }

  return (
    <form className="form" onSubmit={submit}>
      <Field label="Name" error={fieldError("name")} hint="Letters, digits and _; starts with a letter or _.">
        <input aria-label="Variable name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field label="Type" error={fieldError("type")}>
        <select aria-label="Variable type" value={type} onChange={(e) => setType(e.target.value as VariableType)}>
          {TYPES.map((t) => <option key={t}>{t}</option>)}
        </select>
      </Field>
      <Field label="Value" error={fieldError("value")}>
        <textarea aria-label="Variable value" value={value} onChange={(e) => setValue(e.target.value)} rows={3} />
      </Field>
      <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
      <div className="form-actions"><button className="btn btn-primary" type="submit">Save</button></div>
    </form>
  );
}
