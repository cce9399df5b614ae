// Trigger details: the webhook node's URLs and "listen for test call"; the schedule node's next fire times.
import { useEffect, useState } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Page, ScheduleOut } from "../api/types";
import { CopyButton } from "../layout/CopyButton";
import type { WebhookTest } from "./useWebhookTest";

export function webhookUrl(origin: string, path: string): string {
  return `${origin}/webhook/${path.replace(/^\/+/, "")}`;
}

interface WebhookProps {
  parameters: Record<string, unknown>;
  test: WebhookTest;
}

export function WebhookPanel({ parameters, test }: WebhookProps) {
  const path = typeof parameters.path === "string" ? parameters.path : "";
  const method = typeof parameters.method === "string" ? parameters.method : "POST";
  const production = webhookUrl(window.location.origin, path);
  const { session, status, message } = test;
  // Each listen gets its own unguessable URL (/webhook-test/{token}), valid for one call.
  const testUrl = session && status === "listening" ? `${window.location.origin}${session.url}` : null;
  return (
    <div className="trigger-panel">
      <h4>Webhook URLs</h4>
      {!path && <p className="field-error">Set a path to get the URLs.</p>}
      <div className="url-row"><span className="badge">{method}</span><span className="muted small">Production</span><code data-testid="webhook-production-url">{production}</code><CopyButton text={production} /></div>
      <div className="url-row"><span className="badge">{method}</span><span className="muted small">Test</span><code data-testid="webhook-test-url">{testUrl ?? "press “Listen for test call” for a one-time URL"}</code>{testUrl && <CopyButton text={testUrl} />}</div>
      <p className="muted small">The production URL works while the workflow is active. A test URL takes one call while the editor listens, and runs what is on the canvas.</p>
      <div className="row">
        <button className="btn" onClick={() => void test.listen()} disabled={!path || status === "listening"}>
          {status === "listening" ? "Listening…" : "Listen for test call"}
        </button>
        {status === "listening" && session && <span className="muted small">Send a {session.method} to the test URL (until {new Date(session.expires_at).toLocaleTimeString()})</span>}
        {status === "received" && <span className="badge badge-completed">received</span>}
        {status === "expired" && <span className="badge badge-cancelled">expired</span>}
      </div>
      {message && <p className="field-error">{message}</p>}
    </div>
  );
}

interface ScheduleProps {
  parameters: Record<string, unknown>;
  defaultTimezone: string;
  /** When the workflow is active: its saved schedule for this node, from GET /schedules. */
  active: { workflowId: string; nodeId: string } | null;
}

export function SchedulePanel({ parameters, defaultTimezone, active }: ScheduleProps) {
  const [times, setTimes] = useState<string[] | null>(null);
  const [live, setLive] = useState<ScheduleOut | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const cron = typeof parameters.cron === "string" && parameters.cron ? parameters.cron : null;
  const interval = typeof parameters.interval_s === "number" ? parameters.interval_s : null;
  const timezone = typeof parameters.timezone === "string" && parameters.timezone ? parameters.timezone : defaultTimezone;

  useEffect(() => {
    if (!cron && !interval) {
      setTimes(null);
      setMessage("Set a cron expression or an interval.");
      return;
    }
    const timer = setTimeout(async () => {
      try {
        const result = await api.post<{ next: string[] }>("schedules/preview", { cron, interval_s: cron ? null : interval, timezone, count: 5 });
        setTimes(result.next);
        setMessage(null);
      } catch (e) {
        setTimes(null);
        setMessage(e instanceof ApiError && e.status === 404 ? "Schedule previews are not available on this server yet." : errorMessage(e));
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [cron, interval, timezone]);

  useEffect(() => {
    if (!active) return setLive(null);
    api.get<Page<ScheduleOut>>("schedules", { limit: 200 }).then(
      (page) => setLive(page.items.find((s) => s.workflow_id === active.workflowId && s.node_id === active.nodeId) ?? null),
      () => setLive(null),
    );
  }, [active?.workflowId, active?.nodeId]);

  return (
    <div className="trigger-panel">
      {live && (
        <p className="small" data-testid="schedule-live">
          Active: next run <code>{live.next_execution?.replace("T", " ") ?? "—"}</code>
          {live.last_execution && <> · last <code>{live.last_execution.replace("T", " ")}</code></>}
        </p>
      )}
      <h4>Next runs ({timezone})</h4>
      {times && (
        <ol className="fire-times" data-testid="schedule-next">
          {times.map((t) => <li key={t}><code>{t.replace("T", " ")}</code></li>)}
        </ol>
      )}
      {message && <p className="muted small">{message}</p>}
    </div>
  );
}
