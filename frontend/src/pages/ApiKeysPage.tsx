// API keys: make a key (shown once), list them by prefix, delete them.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { ApiKey, Page } from "../api/types";
import { CopyButton } from "../layout/CopyButton";
import { Empty, ErrorBox, Field, timeAgo } from "../layout/ui";

export function ApiKeysPage() {
  const [items, setItems] = useState<ApiKey[]>([]);
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);

  const load = useCallback(async () => {
    try {
      setItems((await api.get<Page<ApiKey>>("api-keys")).items);
    } catch (e) {
      setError(e as Error);
    }
  }, []);
  useEffect(() => void load(), [load]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      const key = await api.post<ApiKey & { key: string }>("api-keys", { name, expires_at: expires ? new Date(expires).toISOString() : null });
      setCreated(key.key);
      setName("");
      setError(null);
      await load();
    } catch (e) {
      setError(e as Error);
    }
  }

  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  return (
    <div className="page">
      <header className="page-head"><h1>API keys</h1></header>
      <p className="muted">A key acts as you in this organization: send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
      <form className="toolbar" onSubmit={submit}>
        <Field label="Name" error={fieldError("name")}>
          <input aria-label="Key name" value={name} onChange={(e) => setName(e.target.value)} required />
        </Field>
        <Field label="Expires (optional)" error={fieldError("expires_at")}>
          <input aria-label="Expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </Field>
        <button className="btn btn-primary" type="submit">Create key</button>
      </form>
      {created && (
        <div className="alert alert-success">
          <strong>Copy your key now; it is not shown again.</strong>
          <div className="copy-row"><code className="mono">{created}</code><CopyButton text={created} /></div>
        </div>
      )}
      <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
      {items.length === 0 ? (
        <Empty><p>No API keys yet.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Name</th><th>Prefix</th><th>Created</th><th>Expires</th><th /></tr></thead>
          <tbody>
            {items.map((k) => (
              <tr key={k.id}>
                <td className="strong">{k.name}</td>
                <td><code>{k.prefix ?? "—"}</code></td>
                <td className="muted">{timeAgo(k.created_at)}</td>
                <td className="muted">{k.expires_at ? new Date(k.expires_at).toLocaleString() : "never"}</td>
                <td className="row-actions">
                  <button className="btn btn-small btn-danger" onClick={() => confirm(`Delete key "${k.name}"?`) && void api.delete(`api-keys/${k.id}`).then(load, (e) => setError(e as Error))}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
