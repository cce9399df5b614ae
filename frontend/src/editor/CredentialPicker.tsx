// Choose the credential for each of a node's credential slots, or create a new one in place.
import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { Credential, CredentialSlot } from "../api/types";
import { Modal } from "../layout/ui";
import { CredentialForm } from "../pages/CredentialForm";

interface Props {
  slots: CredentialSlot[];
  value: Record<string, string>;
  onChange: (value: Record<string, string>) => void;
  readOnly?: boolean;
}

export function CredentialPicker({ slots, value, onChange, readOnly }: Props) {
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [creating, setCreating] = useState<CredentialSlot | null>(null);
  const load = () => api.get<Credential[]>("credentials").then(setCredentials, () => undefined);
  useEffect(() => void load(), []);

  const set = (slot: string, id: string) => {
    const next = { ...value };
    if (id) next[slot] = id;
    else delete next[slot];
    onChange(next);
  };

  return (
    <div className="credential-picker">
      {slots.map((slot) => {
        const matching = credentials.filter((c) => c.type === slot.credential_type);
        return (
          <div className="field" key={slot.name}>
            <span className="field-label">Credential: {slot.name}{slot.required && <span className="required">*</span>}</span>
            <div className="row">
              <select aria-label={`Credential ${slot.name}`} value={value[slot.name] ?? ""} disabled={readOnly}
                onChange={(e) => (e.target.value === "__new" ? setCreating(slot) : set(slot.name, e.target.value))}>
                <option value="">None</option>
                {matching.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
                {!readOnly && <option value="__new">+ Create new…</option>}
              </select>
            </div>
            <span className="field-hint">{slot.description}</span>
          </div>
        );
      })}
      {creating && (
        <Modal title={`New ${creating.credential_type} credential`} onClose={() => setCreating(null)}>
          <CredentialForm type={creating.credential_type} onSaved={(c) => { setCreating(null); void load(); set(creating.name, c.id); }} />
        </Modal>
      )}
    </div>
  );
}
