// Credentials of the organization: names, types and field names; values are write-only.
import { useCallback, useEffect, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Credential } from "../api/types";
import { Empty, ErrorBox, Modal, timeAgo } from "../layout/ui";
import { CredentialForm } from "./CredentialForm";

export function CredentialsPage() {
  const [items, setItems] = useState<Credential[]>([]);
  const [editing, setEditing] = useState<Credential | "new" | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setItems(await api.get<Credential[]>("credentials"));
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  return (
    <div className="page">
      <header className="page-head">
        <h1>Credentials</h1>
        <button className="btn btn-primary" onClick={() => setEditing("new")}>New credential</button>
      </header>
      <ErrorBox message={error} />
      {items.length === 0 ? (
        <Empty><p>No credentials yet. Nodes such as HTTP Request use them to sign in to other services.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Name</th><th>Type</th><th>Fields</th><th>Updated</th><th /></tr></thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id}>
                <td className="strong">{c.name}</td>
                <td><code>{c.type}</code></td>
                <td className="muted">{c.fields.join(", ")}</td>
                <td className="muted">{timeAgo(c.updated_at)}</td>
                <td className="row-actions">
                  <button className="btn btn-small" onClick={() => setEditing(c)}>Edit</button>
                  <button className="btn btn-small btn-danger" onClick={() => confirm(`Delete credential "${c.name}"?`) && void api.delete(`credentials/${c.id}`).then(load, (e) => setError(errorMessage(e)))}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <Modal title={editing === "new" ? "New credential" : `Edit ${editing.name}`} onClose={() => setEditing(null)}>
          <CredentialForm existing={editing === "new" ? undefined : editing} onSaved={() => { setEditing(null); void load(); }} />
        </Modal>
      )}
    </div>
  );
}
