// The frame around every signed-in page: navigation, organization switcher, user menu, light or
// dark. The sidebar folds to icons (remembered; folded by default in the editor, where the canvas
// needs the width).
import { useEffect, useState, type ReactNode } from "react";
import { useSession } from "../auth/session";
import { api } from "../api/client";
import type { Organization } from "../api/types";
import { Link, navigate, useLocation } from "../lib/router";
import { currentTheme, systemTheme, toggleTheme, applyTheme, storedTheme, type Theme } from "../lib/theme";

const NEW_ORG = "__new";
const FOLD_KEY = "wirework.sidebar";

const NAV = [
  { to: "/workflows", label: "Workflows", icon: "⇄" },
  { to: "/executions", label: "Executions", icon: "▶" },
  { to: "/templates", label: "Templates", icon: "❏" },
  { to: "/bots", label: "Bots", icon: "☻" },
  { to: "/conversations", label: "Conversations", icon: "✉" },
  { to: "/ai-models", label: "AI models", icon: "✦" },
  { to: "/knowledge", label: "Knowledge", icon: "❖" },
  { to: "/credentials", label: "Credentials", icon: "✱" },
  { to: "/variables", label: "Variables", icon: "$" },
  { to: "/api-keys", label: "API keys", icon: "⚷" },
  { to: "/members", label: "Members", icon: "☺" },
];

const inEditor = (path: string) => /^\/(workflows|executions)\/[^/]+/.test(path);

function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(currentTheme);
  useEffect(() => {
    // Follow the system while the user has not chosen.
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    const follow = () => {
      if (storedTheme()) return;
      applyTheme(systemTheme());
      setTheme(systemTheme());
    };
    media?.addEventListener("change", follow);
    return () => media?.removeEventListener("change", follow);
  }, []);
  return [theme, () => setTheme(toggleTheme())];
}

export function Shell({ children }: { children: ReactNode }) {
  const { me, logout, switchOrg } = useSession();
  const { path } = useLocation();
  const [fold, setFold] = useState<string | null>(() => localStorage.getItem(FOLD_KEY));
  const [theme, switchTheme] = useTheme();
  if (!me) return null;
  const folded = fold ? fold === "folded" : inEditor(path);
  const toggleFold = () => {
    const next = folded ? "open" : "folded";
    localStorage.setItem(FOLD_KEY, next);
    setFold(next);
  };
  return (
    <div className={`shell${folded ? " shell-folded" : ""}`}>
      <aside className="sidebar" aria-label="Sidebar">
        <div className="sidebar-top">
          <div className="brand"><span className="brand-mark" />{!folded && "Wirework"}</div>
          <button className="btn-icon" onClick={toggleFold} aria-label={folded ? "Expand the sidebar" : "Collapse the sidebar"} title={folded ? "Expand" : "Collapse"}>{folded ? "»" : "«"}</button>
        </div>
        {!folded && (
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
        )}
        <nav>
          {NAV.map((item) => (
            <Link key={item.to} to={item.to} className={`nav-link${path.startsWith(item.to) ? " active" : ""}`} title={folded ? item.label : undefined} aria-label={item.label}>
              <span className="nav-icon" aria-hidden="true">{item.icon}</span>{!folded && <span>{item.label}</span>}
            </Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          <button className="btn-icon theme-toggle" onClick={switchTheme} aria-label={theme === "dark" ? "Light mode" : "Dark mode"} title={theme === "dark" ? "Light mode" : "Dark mode"}>
            {theme === "dark" ? "☀" : "☾"}
          </button>
          <div className="user" title={me.user.email}>
            <span className="avatar">{me.user.username.slice(0, 1).toUpperCase()}</span>
            {!folded && <span className="user-name">{me.user.username}</span>}
          </div>
          <button className="btn btn-ghost btn-small" onClick={() => void logout().then(() => navigate("/login"))} title="Log out" aria-label="Log out">
            {folded ? "⇥" : "Log out"}
          </button>
        </div>
      </aside>
      <main className="content">{children}</main>
    </div>
  );
}
