// "Listen for test call": registers the editor's draft for one call to its own /webhook-test/{token} and
// polls each second until it arrives (then the run's data is shown) or the listener expires.
// It lives in the editor, not the node panel, so closing the panel does not stop listening.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Definition, WebhookTestSession, WebhookTestStatus } from "../api/types";

export interface WebhookTest {
  session: WebhookTestSession | null;
  status: "listening" | "received" | "expired" | null;
  message: string | null;
  /** Start listening; the session (its one-time URL), or null when it could not start. */
  listen: () => Promise<WebhookTestSession | null>;
}

interface Options {
  definition: () => Definition;
  /** Makes sure the workflow is saved once (a test run points at a saved version); its id, or null. */
  prepare: () => Promise<string | null>;
  onReceived: (executionId: string) => void;
  onInvalid: (error: ApiError) => void;
}

export function useWebhookTest({ definition, prepare, onReceived, onInvalid }: Options): WebhookTest {
  const [session, setSession] = useState<WebhookTestSession | null>(null);
  const [status, setStatus] = useState<WebhookTest["status"]>(null);
  const [message, setMessage] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const received = useRef(onReceived);
  received.current = onReceived;

  useEffect(() => () => window.clearInterval(timer.current), []);

  const listen = useCallback(async (): Promise<WebhookTestSession | null> => {
    setMessage(null);
    const id = await prepare();
    if (!id) return null;
    try {
      const started = await api.post<WebhookTestSession>(`workflows/${id}/webhook-test`, { definition: definition() });
      setSession(started);
      setStatus("listening");
      window.clearInterval(timer.current);
      timer.current = window.setInterval(async () => {
        try {
          const state = await api.get<WebhookTestStatus>(`workflows/${id}/webhook-test`);
          if (state.status === "listening") return;
          window.clearInterval(timer.current);
          setStatus(state.status === "idle" ? null : state.status);
          if (state.status === "received" && state.execution_id) received.current(state.execution_id);
        } catch (e) {
          window.clearInterval(timer.current);
          setStatus(null);
          setMessage(errorMessage(e));
        }
      }, 1000);
      return started;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) onInvalid(e);
      setMessage(e instanceof ApiError && e.status === 404 ? "Test webhooks are not available on this server yet." : errorMessage(e));
      return null;
    }
  }, [definition, prepare, onInvalid]);

  return { session, status, message, listen };
}
