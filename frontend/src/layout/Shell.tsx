// The frame around every signed-in page: navigation, organization switcher, user menu.
import type { ReactNode } from "react";
import { useSession } from "../auth/session";
import { api } from "../api/client";
import type { Organization } from "../api/types";
import { Link, navigate, useLocation } from "../lib/router";

const NEW_ORG = "__new";

const NAV = [
  { to: "/workflows", label: "Workflows" },
  { to: "/executions", label: "Executions" },
  { to: "/templates", label: "Templates" },
  { to: "/credentials", label: "Credentials" },
  { to: "/variables", label: "Variables" },
  { to: "/api-keys", label: "API keys" },
  { to: "/members", label: "Members" },
];

export function Shell({ children }: { children: ReactNode }) {
  const { me, logout, switchOrg } = useSession();
  const { path } = useLocation();
  if (!me) return null;
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand"><span className="brand-mark" />Wirework</div>
        <label className="org-switcher">
          <span className="field-label">Organization</span>
          <select
            aria-label="Organization"
            value={me.organization?.id ?? ""}
            onChange={async (e) => {
              let orgId = e.target.value;
              if (orgId === NEW_ORG) {
                const name = window.prompt("Name of the new organization");
                if (!name?.trim()) return;
                orgId = (await api.post<Organization>("orgs", { name: name.trim() })).id;
              }
              await switchOrg(orgId);
              navigate("/workflows");
            }}
          >
            {!me.organization && <option value="">Choose…</option>}
            {me.organizations.map((o) => (
              <option key={o.id} value={o.id}>{o.name}{o.role ? ` (${o.role})` : ""}</option>
            ))}
            <option value={NEW_ORG}>+ New organization…</option>
          </select>
        </label>
        <nav>
          {NAV.map((item) => (
            <Link key={item.to} to={item.to} className={`nav-link${path.startsWith(item.to) ? " active" : ""}`}>
              {item.label}
            </Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          <div className="user" title={me.user.email}>
            <span className="avatar">{me.user.username.slice(0, 1).toUpperCase()}</span>
            <span className="user-name">{me.user.username}</span>
          </div>
          <button className="btn btn-ghost btn-small" onClick={() => void logout().then(() => navigate("/login"))}>
            Log out
          </button>
        </div>
      </aside>
      <main className="content">{children}</main>
    </div>
  );
}
