// The app: session gate (a new instance, with no account yet, opens on Sign up), the shell with
// its navigation, and the routes.
import { lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import { api } from "./api/client";
import { SessionProvider, useSession } from "./auth/session";
import { AuthPage } from "./pages/AuthPage";
import { Shell } from "./layout/Shell";
import { afterLogin, matchPath, navigate, useLocation } from "./lib/router";
import { WorkflowsPage } from "./pages/WorkflowsPage";
import { ExecutionsPage } from "./pages/ExecutionsPage";
import { CredentialsPage } from "./pages/CredentialsPage";
import { VariablesPage } from "./pages/VariablesPage";
import { TemplatesPage } from "./pages/TemplatesPage";
import { ApiKeysPage } from "./pages/ApiKeysPage";
import { MembersPage } from "./pages/MembersPage";
import { InvitePage } from "./pages/InvitePage";
import { BotsPage } from "./pages/BotsPage";
import { BotPage } from "./pages/BotPage";
import { ConversationPage, ConversationsPage } from "./pages/ConversationsPage";
import { AIModelsPage } from "./pages/AIModelsPage";
import { KnowledgeCollectionPage, KnowledgePage } from "./pages/KnowledgePage";
import { applyTheme, currentTheme } from "./lib/theme";

applyTheme(currentTheme()); // before the first paint, so a dark page does not flash light

// The editor (React Flow) loads only when a workflow is opened.
const EditorPage = lazy(() => import("./editor/EditorPage"));

export function App() {
  return (
    <SessionProvider>
      <Routes />
    </SessionProvider>
  );
}

function Loading() {
  return <div className="loading">Loading…</div>;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return <Loading />;
}

/** Whether the instance has an account yet (asked only while logged out); null until known. */
function useHasUsers(ask: boolean): boolean | null {
  const [hasUsers, setHasUsers] = useState<boolean | null>(null);
  useEffect(() => {
    if (!ask) return;
    api.get<{ has_users: boolean }>("auth/status").then((s) => setHasUsers(s.has_users), () => setHasUsers(true));
  }, [ask]);
  return hasUsers;
}

function Routes() {
  const { me, loading, orgVersion } = useSession();
  const { path, query } = useLocation();
  const hasUsers = useHasUsers(!loading && !me);
  if (loading) return <Loading />;
  // An invitation's link: signs up (logged out) or accepts (logged in).
  if (path === "/invite") return <InvitePage />;
  if (!me) {
    if (path === "/signup") return <AuthPage mode="signup" first={hasUsers === false} />;
    if (path === "/login") return <AuthPage mode="login" />;
    if (hasUsers === null) return <Loading />;
    return <AuthPage mode={hasUsers ? "login" : "signup"} first={!hasUsers} />;
  }
  if (path === "/login" || path === "/signup" || path === "/") return <Redirect to={afterLogin(query.get("next"))} />;
  let page: ReactNode;
  let params: Record<string, string> | null;
  if ((params = matchPath("/workflows/:id", path))) {
    page = <EditorPage key={`${params.id}-${orgVersion}`} workflowId={params.id} />;
  } else if ((params = matchPath("/executions/:id", path))) {
    page = <EditorPage key={`x-${params.id}-${orgVersion}`} executionId={params.id} />;
  } else if ((params = matchPath("/bots/:id", path))) {
    page = <BotPage key={`${params.id}-${orgVersion}`} botId={params.id} />;
  } else if ((params = matchPath("/conversations/:id", path))) {
    page = <ConversationPage key={`${params.id}-${orgVersion}`} sessionId={params.id} />;
  } else if ((params = matchPath("/knowledge/:id", path))) {
    page = <KnowledgeCollectionPage key={`${params.id}-${orgVersion}`} collectionId={params.id} />;
  } else if (path === "/bots") page = <BotsPage key={orgVersion} />;
  else if (path === "/knowledge") page = <KnowledgePage key={orgVersion} />;
  else if (path === "/conversations") page = <ConversationsPage key={orgVersion} />;
  else if (path === "/executions") page = <ExecutionsPage key={orgVersion} />;
  else if (path === "/credentials") page = <CredentialsPage key={orgVersion} />;
  else if (path === "/ai-models") page = <AIModelsPage key={orgVersion} />;
  else if (path === "/variables") page = <VariablesPage key={orgVersion} />;
  else if (path === "/templates") page = <TemplatesPage key={orgVersion} />;
  else if (path === "/api-keys") page = <ApiKeysPage key={orgVersion} />;
  else if (path === "/members") page = <MembersPage key={orgVersion} />;
  else if (path === "/workflows") page = <WorkflowsPage key={orgVersion} />;
  else page = <div className="page"><h1>Not found</h1><p>Nothing lives at {path}.</p></div>;
  return (
    <Shell>
      <Suspense fallback={<Loading />}>{page}</Suspense>
    </Shell>
  );
}
