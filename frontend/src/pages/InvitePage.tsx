// /invite?token=…, the link of an invitation: it first reads what the invitation offers
// (organization, role, email); logged out, sign up with it (or log in and come back); logged
// in, accept it, switch to the organization joined and go to its workflows.
import { useEffect, useState, type ReactNode } from "react";
import { errorMessage, invitations } from "../api/client";
import type { InvitationPreview } from "../api/types";
import { useSession } from "../auth/session";
import { ErrorBox } from "../layout/ui";
import { Link, navigate, useLocation } from "../lib/router";
import { AuthPage, invitedHeading } from "./AuthPage";

export function InvitePage() {
  const session = useSession();
  const token = useLocation().query.get("token") ?? "";
  const [invitation, setInvitation] = useState<InvitationPreview | null>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!token) return;
    let current = true;
    invitations.preview(token).then(
      (found) => current && setInvitation(found),
      (e: unknown) => current && setInvalid(errorMessage(e)),
    );
    return () => {
      current = false;
    };
  }, [token]);

  if (!token || invalid) {
    return (
      <InviteCard>
        <p role="alert">{invalid ?? "This invitation link has no token."} Ask whoever invited you for a new link.</p>
        <p className="muted center"><Link to="/workflows">Go to Wirework</Link></p>
      </InviteCard>
    );
  }
  if (!invitation) return <div className="loading">Loading…</div>;
  if (!session.me) return <AuthPage mode="signup" invitationToken={token} invitation={invitation} />;

  async function accept() {
    setBusy(true);
    setError(null);
    try {
      const org = await invitations.accept(token);
      await session.switchOrg(org.id);
      navigate("/workflows", true);
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  }

  const { user } = session.me;
  return (
    <InviteCard invitation={invitation}>
      <p className="muted">
        The invitation was sent to <strong>{invitation.email}</strong>. You are logged in as{" "}
        <strong>{user.username}</strong> ({user.email}).
      </p>
      <ErrorBox message={error} />
      <button className="btn btn-primary btn-block" onClick={() => void accept()} disabled={busy}>Accept invitation</button>
      <p className="muted center">
        Not you? <button className="btn btn-ghost btn-small" onClick={() => void session.logout()}>Log out</button>{" "}
        or <Link to="/workflows">not now</Link>.
      </p>
    </InviteCard>
  );
}

function InviteCard({ invitation, children }: { invitation?: InvitationPreview; children: ReactNode }) {
  return (
    <div className="auth">
      <div className="auth-card">
        <div className="brand brand-large"><span className="brand-mark" />Wirework</div>
        <h1>{invitedHeading(invitation)}</h1>
        {children}
      </div>
    </div>
  );
}
