// Who is logged in: loads /auth/me, offers login, signup, logout and switching organization.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, onUnauthorized, request } from "../api/client";
import type { Me } from "../api/types";

interface SessionState {
  me: Me | null;
  loading: boolean;
  /** Bumped when the organization changes, so pages reload their data. */
  orgVersion: number;
  login(login: string, password: string): Promise<void>;
  signup(body: { email: string; username: string; password: string; org_name?: string; invitation_token?: string }): Promise<void>;
  logout(): Promise<void>;
  switchOrg(orgId: string): Promise<void>;
  reload(): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);
  const [orgVersion, setOrgVersion] = useState(0);

  const reload = useCallback(async () => {
    try {
      setMe(await request<Me>("GET", "auth/me", { quiet401: true }));
    } catch {
      setMe(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
    return onUnauthorized(() => setMe(null));
  }, [reload]);

  const value: SessionState = {
    me,
    loading,
    orgVersion,
    reload,
    async login(login, password) {
      await api.post("auth/login", { login, password });
      await reload();
    },
    async signup(body) {
      await api.post("auth/signup", body);
      await reload();
    },
    async logout() {
      try {
        await api.post("auth/logout");
      } finally {
        setMe(null);
      }
    },
    async switchOrg(orgId) {
      setMe(await api.post<Me>("auth/switch-org", { org_id: orgId }));
      setOrgVersion((v) => v + 1);
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
