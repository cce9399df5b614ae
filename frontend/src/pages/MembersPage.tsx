// Members of the current organization: everyone sees the list and may leave; admins and owners
// change roles, remove members, and invite people (the link is shown once) or revoke invitations.
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, errorMessage, invitations, members } from "../api/client";
import type { Invitation, InvitationCreated, Member, OrgRole } from "../api/types";
import { useSession } from "../auth/session";
import { CopyButton } from "../layout/CopyButton";
import { Empty, ErrorBox, Field, timeAgo } from "../layout/ui";
import { assignableRoles, canManage, memberActions } from "../lib/roles";
import { navigate } from "../lib/router";

export function MembersPage() {
  const session = useSession();
  const org = session.me?.organization;
  const activeOrgId = org?.id;
  const myId = session.me?.user.id;
  const myRole = org?.role;
  const admin = canManage(myRole);
  const [items, setItems] = useState<Member[]>([]);
  const [pending, setPending] = useState<Invitation[]>([]);
  const [error, setError] = useState<string | null>(null);
  // Errors of one row's action, by member user_id or invitation id: shown under that row.
  const [rowErrors, setRowErrors] = useState<Record<string, string>>({});

  const load = useCallback(async () => {
    if (!activeOrgId) return;
    try {
      setItems(await members.list(activeOrgId));
      setPending(admin ? (await invitations.list(activeOrgId)).filter((i) => !i.used_at) : []);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [activeOrgId, admin]);
  useEffect(() => void load(), [load]);

  if (!org || !session.me) {
    return <div className="page"><h1>Members</h1><Empty><p>Choose an organization first.</p></Empty></div>;
  }
  const orgId = org.id;
  const orgName = org.name;
  const others = session.me.organizations.filter((o) => o.id !== orgId);

  /** Run one row's action; its error shows under the row, else the list reloads. */
  async function act(key: string, action: () => Promise<unknown>, after?: () => Promise<void>) {
    setRowErrors((errors) => {
      const { [key]: _old, ...rest } = errors;
      return rest;
    });
    try {
      await action();
      if (after) await after();
      else await load();
    } catch (e) {
      setRowErrors((errors) => ({ ...errors, [key]: errorMessage(e) }));
    }
  }

  function changeRole(m: Member, role: OrgRole) {
    void act(m.user_id, () => members.setRole(orgId, m.user_id, role), async () => {
      if (m.user_id === myId) await session.reload(); // my own role changed: what I may do too
      await load();
    });
  }

  function remove(m: Member) {
    if (!confirm(`Remove ${m.username} from ${orgName}?`)) return;
    void act(m.user_id, () => members.remove(orgId, m.user_id));
  }

  function leave(m: Member) {
    if (!confirm(`Leave ${orgName}? You lose access to its workflows.`)) return;
    void act(m.user_id, () => members.remove(orgId, m.user_id), async () => {
      if (others.length) await session.switchOrg(others[0].id);
      else await session.reload();
      navigate("/workflows");
    });
  }

  function revoke(inv: Invitation) {
    if (!confirm(`Revoke the invitation of ${inv.email}?`)) return;
    void act(inv.id, () => invitations.revoke(orgId, inv.id));
  }

  return (
    <div className="page">
      <header className="page-head"><h1>Members</h1></header>
      <p className="muted">
        The people of <strong>{orgName}</strong>. Your role: <strong>{myRole}</strong>
        {admin ? "; you can change roles, remove members and invite people." : "."}
      </p>
      <ErrorBox message={error} />
      <table className="table" aria-label="Members">
        <thead><tr><th>Username</th><th>Email</th><th>Role</th><th>Joined</th><th /></tr></thead>
        <tbody>
          {items.map((m) => {
            const self = m.user_id === myId;
            const can = memberActions(myRole, m.role, self);
            return (
              <MemberRow key={m.user_id} error={rowErrors[m.user_id]}>
                <td className="strong">{m.username}{self && <span className="muted"> (you)</span>}</td>
                <td>{m.email}</td>
                <td>
                  {can.roles.length ? (
                    <select aria-label={`Role of ${m.username}`} value={m.role} onChange={(e) => changeRole(m, e.target.value as OrgRole)}>
                      {can.roles.map((r) => <option key={r}>{r}</option>)}
                    </select>
                  ) : (
                    <span className="badge">{m.role}</span>
                  )}
                </td>
                <td className="muted">{timeAgo(m.joined_at)}</td>
                <td className="row-actions">
                  {can.remove && <button className="btn btn-small btn-danger" onClick={() => remove(m)}>Remove</button>}
                  {can.leave && <button className="btn btn-small btn-danger" onClick={() => leave(m)}>Leave organization</button>}
                </td>
              </MemberRow>
            );
          })}
        </tbody>
      </table>
      {admin && (
        <>
          <header className="page-head" style={{ marginTop: 32 }}><h2>Invitations</h2></header>
          <InviteForm orgId={orgId} roles={assignableRoles(myRole)} onInvited={load} />
          {pending.length === 0 ? (
            <Empty><p>No pending invitations.</p></Empty>
          ) : (
            <table className="table" aria-label="Pending invitations">
              <thead><tr><th>Email</th><th>Role</th><th>Expires</th><th /></tr></thead>
              <tbody>
                {pending.map((inv) => (
                  <MemberRow key={inv.id} error={rowErrors[inv.id]} span={4}>
                    <td>{inv.email}</td>
                    <td><span className="badge">{inv.role}</span></td>
                    <td className="muted">
                      {new Date(inv.expires_at) <= new Date() ? "expired" : new Date(inv.expires_at).toLocaleString()}
                    </td>
                    <td className="row-actions">
                      <button className="btn btn-small btn-danger" onClick={() => revoke(inv)}>Revoke</button>
                    </td>
                  </MemberRow>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </div>
  );
}

/** A table row, and under it the error of its last action, if any. */
function MemberRow({ error, span = 5, children }: { error?: string; span?: number; children: ReactNode }) {
  return (
    <>
      <tr>{children}</tr>
      {error && <tr><td colSpan={span}><ErrorBox message={error} /></td></tr>}
    </>
  );
}

function InviteForm({ orgId, roles, onInvited }: { orgId: string; roles: OrgRole[]; onInvited: () => Promise<void> }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<OrgRole>("member");
  const [created, setCreated] = useState<InvitationCreated | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      setCreated(await invitations.create(orgId, email, role));
      setEmail("");
      setError(null);
      await onInvited();
    } catch (e) {
      setError(e as Error);
      setCreated(null);
    }
  }

  return (
    <>
      <form className="toolbar" onSubmit={submit} aria-label="Invite member">
        <Field label="Email" error={fieldError("email")} hint="No email is sent yet: you get a link to pass on.">
          <input aria-label="Invite email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </Field>
        <Field label="Role" error={fieldError("role")}>
          <select aria-label="Invite role" value={role} onChange={(e) => setRole(e.target.value as OrgRole)}>
            {roles.map((r) => <option key={r}>{r}</option>)}
          </select>
        </Field>
        <button className="btn btn-primary" type="submit">Invite member</button>
      </form>
      <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
      {created && (
        <div className="alert alert-success">
          <strong>Wirework does not send email yet: send this link to {created.email} yourself. It is not shown again.</strong>
          <div className="copy-row"><code className="mono" data-testid="invite-link">{created.accept_url}</code><CopyButton text={created.accept_url} /></div>
        </div>
      )}
    </>
  );
}
