// /invite?token=…, the link of an invitation: logged out, sign up with it (or log in and come
// back); logged in, accept it, switch to the organization joined and go to its workflows.
import { useState, type ReactNode } from "react";
import { errorMessage, invitations } from "../api/client";
import { useSession } from "../auth/session";
import { ErrorBox } from "../layout/ui";
import { Link, navigate, useLocation } from "../lib/router";
import { AuthPage } from "./AuthPage";

export function InvitePage() {
  const session = useSession();
  const token = useLocation().query.get("token") ?? "";
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (!token) {
    return (
      <InviteCard>
        <p>This invitation link has no token. Ask whoever invited you for the link again.</p>
        <p className="muted center"><Link to="/workflows">Go to Wirework</Link></p>
      </InviteCard>
    );
  }
  if (!session.me) return <AuthPage mode="signup" invitationToken={token} />;

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
    <InviteCard>
      <p className="muted">
        You are logged in as <strong>{user.username}</strong> ({user.email}); the invitation must have been sent to this email.
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

function InviteCard({ children }: { children: ReactNode }) {
  return (
    <div className="auth">
      <div className="auth-card">
        <div className="brand brand-large"><span className="brand-mark" />Wirework</div>
        <h1>You were invited to join an organization</h1>
        {children}
      </div>
    </div>
  );
}
