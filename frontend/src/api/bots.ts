// Bots, conversations and messages (/api/v1/bots, /sessions, /messages): types and calls.
import { api, ApiError, CSRF_COOKIE, CSRF_HEADER, readCookie, request } from "./client";
import type { Page } from "./types";

export interface BotSettings {
  max_message_length: number;
  flood_max_messages: number;
  flood_window_s: number;
  session_idle_minutes: number;
  retention_days: number;
  web_chat_enabled: boolean;
  web_chat_sockets_per_ip: number;
  web_chat_origins: string[];
}

export interface BotCommand {
  id?: string;
  command: string;
  description: string | null;
  workflow_id: string;
}

export interface Bot {
  id: string;
  name: string;
  description: string | null;
  avatar_url: string | null;
  welcome_message: string | null;
  public_id: string;
  dialog_kind: string;
  dialog_workflow_id: string | null;
  ai_model_id: string | null;
  is_active: boolean;
  settings: BotSettings;
  created_at: string;
  updated_at: string;
  commands?: BotCommand[];
}

export interface ConfigEntry { name: string; value: string }
export interface Memory { user_key: string; key: string; value: unknown; updated_at: string }

export interface ChatSession {
  id: string;
  bot_id: string;
  channel: string;
  title: string | null;
  user_id: string | null;
  visitor_id: string | null;
  platform_user_id: string | null;
  message_count: number;
  tokens: number;
  waiting: boolean;
  taken_over_by: string | null;
  last_activity_at: string;
  expires_at: string | null;
  closed_at: string | null;
  created_at: string;
  context?: Record<string, unknown>;
  user_name?: string | null;
}

export interface ChatMessage {
  id: string;
  session_id: string;
  bot_id: string;
  role: "user" | "assistant" | "system" | "tool";
  sender: string | null;
  content: string;
  channel: string;
  delivery: "received" | "pending" | "sent" | "failed";
  attempts: number;
  error: string | null;
  tokens: number;
  latency_ms: number | null;
  model: string | null;
  created_at: string;
}

export interface SendResult {
  session_id: string;
  message_id: string | null;
  duplicate: boolean;
  routed_to: string | null;
  replies: ChatMessage[];
  waiting: boolean;
}

/** A CSV body (the JSON client sends JSON only). */
async function postCsv(path: string, text: string): Promise<{ imported: number }> {
  const headers: Record<string, string> = { "Content-Type": "text/csv", Accept: "application/json" };
  const csrf = readCookie(CSRF_COOKIE);
  if (csrf) headers[CSRF_HEADER] = csrf;
  const response = await fetch(`/api/v1/${path}`, { method: "POST", headers, body: text, credentials: "same-origin" });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, String(data.title ?? "Error"), String(data.detail ?? "The file was refused."), []);
  return data;
}

export const bots = {
  list: () => api.get<Page<Bot>>("bots", { limit: 200 }),
  get: (id: string) => api.get<Bot>(`bots/${id}`),
  create: (body: Partial<Bot>) => api.post<Bot>("bots", body),
  update: (id: string, body: Partial<Bot>) => api.patch<Bot>(`bots/${id}`, body),
  remove: (id: string) => api.delete(`bots/${id}`),
  config: (id: string) => api.get<ConfigEntry[]>(`bots/${id}/config`),
  importCsv: (id: string, text: string, replace: boolean) => postCsv(`bots/${id}/config.csv${replace ? "?replace=true" : ""}`, text),
  csvUrl: (id: string) => `/api/v1/bots/${id}/config.csv`,
  memories: (id: string) => api.get<Page<Memory>>(`bots/${id}/memories`, { limit: 200 }),
  setMemory: (id: string, key: string, value: unknown, userKey = "") =>
    api.put<Memory>(`bots/${id}/memories/${encodeURIComponent(key)}${userKey ? `?user_key=${encodeURIComponent(userKey)}` : ""}`, { value }),
  deleteMemory: (id: string, key: string, userKey = "") =>
    api.delete(`bots/${id}/memories/${encodeURIComponent(key)}${userKey ? `?user_key=${encodeURIComponent(userKey)}` : ""}`),
  send: (id: string, text: string, chatId: string) => api.post<SendResult>(`bots/${id}/messages`, { text, chat_id: chatId, wait_s: 10 }),
};

export const conversations = {
  list: (query: { bot_id?: string; channel?: string; cursor?: string }) => api.get<Page<ChatSession>>("sessions", { ...query, limit: 50 }),
  get: (id: string) => api.get<ChatSession>(`sessions/${id}`),
  messages: (id: string, cursor?: string) => api.get<Page<ChatMessage>>(`sessions/${id}/messages`, { cursor, limit: 200 }),
  takeOver: (id: string) => api.post<ChatSession>(`sessions/${id}/takeover`),
  handBack: (id: string) => request<ChatSession>("DELETE", `sessions/${id}/takeover`),
  say: (id: string, text: string) => api.post<ChatMessage>(`sessions/${id}/messages`, { text }),
  close: (id: string) => api.post<ChatSession>(`sessions/${id}/close`),
  search: (q: string, botId?: string) => api.get<Page<ChatMessage>>("messages", { q, bot_id: botId, limit: 50 }),
};
