// API keys: make a key with the scopes it may use (shown once), list them by prefix, delete them.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { ApiKey, Page } from "../api/types";
import { CopyButton } from "../layout/CopyButton";
import { Empty, ErrorBox, Field, timeAgo } from "../layout/ui";
import { scopeAreas, summarizeScopes, type ScopeInfo } from "../lib/scopes";

export function ApiKeysPage() {
  const [items, setItems] = useState<ApiKey[]>([]);
  const [available, setAvailable] = useState<ScopeInfo[]>([]);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
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
  useEffect(() => {
    api.get<ScopeInfo[]>("api-keys/scopes").then((scopes) => {
      setAvailable(scopes);
      setChosen(new Set(scopes.map((s) => s.scope)));
    }, (e) => setError(e as Error));
  }, []);

  const all = available.map((s) => s.scope);
  const toggle = (scope: string, on: boolean) =>
    setChosen((current) => {
      const next = new Set(current);
      if (on) next.add(scope);
      else next.delete(scope);
      return next;
    });

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      const key = await api.post<ApiKey & { key: string }>("api-keys", {
        name,
        expires_at: expires ? new Date(expires).toISOString() : null,
        scopes: all.filter((s) => chosen.has(s)),
      });
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
      <p className="muted">
        A key acts as you in this organization, limited to the scopes you give it (and never beyond your role):
        send it as <code>Authorization: Bearer &lt;key&gt;</code>. A request outside its scopes gets 403.
      </p>
      <form onSubmit={submit} aria-label="New API key">
        <div className="toolbar">
          <Field label="Name" error={fieldError("name")}>
            <input aria-label="Key name" value={name} onChange={(e) => setName(e.target.value)} required />
          </Field>
          <Field label="Expires (optional)" error={fieldError("expires_at")}>
            <input aria-label="Expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
          </Field>
          <button className="btn btn-primary" type="submit" disabled={chosen.size === 0}>Create key</button>
        </div>
        {available.length > 0 && (
          <fieldset className="scopes" aria-label="Scopes">
            <legend>
              Scopes{" "}
              <button type="button" className="btn btn-small" onClick={() => setChosen(new Set(all))}>All</button>{" "}
              <button type="button" className="btn btn-small" onClick={() => setChosen(new Set(all.filter((s) => s.endsWith(":read"))))}>Read only</button>
            </legend>
            <table className="table">
              <thead><tr><th>Area</th><th>Read</th><th>Change</th><th /></tr></thead>
              <tbody>
                {scopeAreas(available).map((row) => (
                  <tr key={row.area}>
                    <td className="strong">{row.area}</td>
                    {[row.read, row.write].map((info, i) => (
                      <td key={i}>
                        {info && (
                          <input type="checkbox" aria-label={info.scope} title={info.description} checked={chosen.has(info.scope)}
                            onChange={(e) => toggle(info.scope, e.target.checked)} />
                        )}
                      </td>
                    ))}
                    <td className="muted small">{(row.read ?? row.write)?.description.replace(/^Read /, "")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {fieldError("scopes") && <span className="field-error" role="alert">{fieldError("scopes")}</span>}
          </fieldset>
        )}
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
          <thead><tr><th>Name</th><th>Prefix</th><th>Scopes</th><th>Created</th><th>Expires</th><th /></tr></thead>
          <tbody>
            {items.map((k) => (
              <tr key={k.id}>
                <td className="strong">{k.name}</td>
                <td><code>{k.prefix ?? "—"}</code></td>
                <td className="small" data-testid={`scopes-${k.name}`}>{summarizeScopes(k.scopes, all)}</td>
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
