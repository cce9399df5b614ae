// Log in and sign up, with API errors shown next to their field. With an invitation token, the
// sign-up joins the invitation's organization (and the login link comes back to the invitation).
import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/client";
import { useSession } from "../auth/session";
import { Link, loginThenBackTo, navigate, useLocation } from "../lib/router";
import type { InvitationPreview } from "../api/types";
import { Field } from "../layout/ui";

export function AuthPage({
  mode,
  invitationToken,
  invitation,
  first,
}: {
  mode: "login" | "signup";
  invitationToken?: string;
  invitation?: InvitationPreview;
  /** No account exists yet: this sign-up makes the instance's first user (its admin). */
  first?: boolean;
}) {
  const session = useSession();
  const next = useLocation().query.get("next");
  const invited = mode === "signup" && !!invitationToken;
  // Where the other form's link comes back to after logging in or signing up.
  const backTo = invitationToken ? `/invite?token=${encodeURIComponent(invitationToken)}` : next;
  const [values, setValues] = useState({ login: "", email: invitation?.email ?? "", username: "", password: "", org_name: "" });
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof values) => (value: string) => setValues((v) => ({ ...v, [key]: value }));
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "login") await session.login(values.login, values.password);
      else {
        await session.signup({
          email: values.email,
          username: values.username,
          password: values.password,
          ...(invited ? { invitation_token: invitationToken } : {}),
          ...(!invited && values.org_name.trim() ? { org_name: values.org_name.trim() } : {}),
        });
        if (invited) navigate("/workflows", true); // the new login acts in the organization joined
      }
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth">
      <form className="auth-card" onSubmit={submit} aria-label={mode === "login" ? "Log in" : "Sign up"}>
        <div className="brand brand-large"><span className="brand-mark" />Wirework</div>
        <h1>{mode === "login" ? "Log in" : invited ? invitedHeading(invitation) : "Create your account"}</h1>
        {invited && <p className="muted">Create your account with the email the invitation was sent to, or log in if you have one.</p>}
        {first && mode === "signup" && !invited && <p className="muted" data-testid="first-account">Welcome! This instance has no account yet: yours will be the first, and its admin.</p>}
        {mode === "login" ? (
          <Field label="Email or username" error={fieldError("login")}>
            <input name="login" autoComplete="username" value={values.login} onChange={(e) => set("login")(e.target.value)} required />
          </Field>
        ) : (
          <>
            <Field label="Email" error={fieldError("email")}>
              <input name="email" type="email" autoComplete="email" value={values.email} onChange={(e) => set("email")(e.target.value)} required />
            </Field>
            <Field label="Username" error={fieldError("username")}>
              <input name="username" autoComplete="username" value={values.username} onChange={(e) => set("username")(e.target.value)} required />
            </Field>
          </>
        )}
        <Field label="Password" error={fieldError("password")} hint={mode === "signup" ? "At least 8 characters." : undefined}>
          <input name="password" type="password" autoComplete={mode === "login" ? "current-password" : "new-password"} value={values.password} onChange={(e) => set("password")(e.target.value)} required />
        </Field>
        {mode === "signup" && !invited && (
          <Field label="Organization name (optional)" error={fieldError("org_name")}>
            <input name="org_name" value={values.org_name} onChange={(e) => set("org_name")(e.target.value)} />
          </Field>
        )}
        {error && !(error instanceof ApiError && error.errors.length) && <div className="alert alert-error" role="alert">{errorMessage(error)}</div>}
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {mode === "login" ? "Log in" : invited ? "Sign up and join" : "Sign up"}
        </button>
        <p className="muted center">
          {mode === "login" ? (
            <>No account? <Link to={backTo ? `/signup?next=${encodeURIComponent(backTo)}` : "/signup"}>Sign up</Link></>
          ) : (
            <>Have an account? <Link to={backTo ? loginThenBackTo(backTo) : "/login"}>Log in</Link></>
          )}
        </p>
      </form>
    </div>
  );
}

/** "You were invited to join Acme as member", or without names when the invitation is not known. */
export function invitedHeading(invitation: InvitationPreview | undefined): string {
  return invitation
    ? `You were invited to join ${invitation.organization_name} as ${invitation.role}`
    : "You were invited to join an organization";
}
