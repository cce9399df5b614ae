// Create or replace a credential: a name, a type and secret fields (write-only: never shown again).
import { useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Credential } from "../api/types";
import { ErrorBox, Field } from "../layout/ui";

/** Field names each known credential type asks for (others: free fields). */
export const CREDENTIAL_FIELDS: Record<string, string[]> = {
  http_basic_auth: ["username", "password"],
  http_bearer_token: ["token"],
  http_header_auth: ["name", "value"],
  oauth2_client_credentials: ["token_url", "client_id", "client_secret", "scope"],
  webhook_auth: ["token"],
};

export function CredentialForm({ existing, type: fixedType, onSaved }: { existing?: Credential; type?: string; onSaved: (c: Credential) => void }) {
  const [name, setName] = useState(existing?.name ?? "");
  const [type, setType] = useState(existing?.type ?? fixedType ?? "http_bearer_token");
  const initialKeys = existing?.fields.length ? existing.fields : (CREDENTIAL_FIELDS[type] ?? ["value"]);
  const [rows, setRows] = useState<[string, string][]>(initialKeys.map((k) => [k, ""]));
  const [error, setError] = useState<ApiError | Error | null>(null);

  function changeType(next: string) {
    setType(next);
    setRows((CREDENTIAL_FIELDS[next] ?? ["value"]).map((k) => [k, ""]));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const data = Object.fromEntries(rows.filter(([k, v]) => k && v !== ""));
    try {
      const saved = existing
        ? await api.patch<Credential>(`credentials/${existing.id}`, { name, data })
        : await api.post<Credential>("credentials", { name, type, data });
      onSaved(saved);
    } catch (e) {
      setError(e as Error);
    }
  }

  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  return (
    <form onSubmit={submit} className="form">
      <Field label="Name" error={fieldError("name")}>
        <input aria-label="Credential name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field label="Type" error={fieldError("type")}>
        <input aria-label="Credential type" list="credential-types" value={type} disabled={Boolean(existing || fixedType)} onChange={(e) => changeType(e.target.value)} required />
        <datalist id="credential-types">{Object.keys(CREDENTIAL_FIELDS).map((t) => <option key={t} value={t} />)}</datalist>
      </Field>
      <div className="field">
        <span className="field-label">Secret fields {existing && <span className="muted">(saving replaces all stored values)</span>}</span>
        {rows.map(([key, value], i) => (
          <div className="kv-row" key={i}>
            <input aria-label="Field name" placeholder="field" value={key} onChange={(e) => setRows(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
            <input aria-label={`Value of ${key}`} type="password" autoComplete="new-password" placeholder={existing ? "•••••• (unchanged unless typed)" : "value"} value={value} onChange={(e) => setRows(rows.map((r, j) => (j === i ? [r[0], e.target.value] : r)))} />
            <button type="button" className="btn-icon" aria-label="Remove field" onClick={() => setRows(rows.filter((_, j) => j !== i))}>×</button>
          </div>
        ))}
        <button type="button" className="btn btn-small" onClick={() => setRows([...rows, ["", ""]])}>Add field</button>
        <span className="field-hint">Values are encrypted and never shown again.</span>
      </div>
      <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
      <div className="form-actions"><button className="btn btn-primary" type="submit">Save credential</button></div>
    </form>
  );
}
