// A bot's connections to chat platforms (Telegram, Slack, Discord, WhatsApp, webhook): the API
// under /api/v1/bots/{bot_id}/channels and the platforms' set-up forms the server describes.
import { api } from "./client";

export interface SetupField {
  name: string;
  label: string;
  /** Where to find the value on the platform. */
  help: string;
  /** Sealed in a credential; never shown again. */
  secret: boolean;
  required: boolean;
  /** Wirework makes a random one when left empty. */
  generated: boolean;
}

export interface ChatPlatform {
  name: string;
  display_name: string;
  fields: SetupField[];
  setup_steps: string[];
  can_test: boolean;
  can_register: boolean;
}

export interface ChannelConnection {
  id: string;
  bot_id: string;
  platform: string;
  name: string;
  settings: Record<string, unknown>;
  is_active: boolean;
  last_error: string | null;
  last_inbound_at: string | null;
  created_at: string;
  inbound_url: string;
}

export interface ChannelConnectionCreated extends ChannelConnection {
  /** Generated secrets (verify token, signing secret…), shown this once. */
  secrets: Record<string, string>;
}

export interface ActionResult {
  ok: boolean;
  detail: string;
  info: Record<string, unknown>;
}

export const channels = {
  platforms: (botId: string) => api.get<ChatPlatform[]>(`bots/${botId}/platforms`),
  list: (botId: string) => api.get<ChannelConnection[]>(`bots/${botId}/channels`),
  create: (botId: string, platform: string, name: string, values: Record<string, string>) =>
    api.post<ChannelConnectionCreated>(`bots/${botId}/channels`, { platform, name, values }),
  update: (botId: string, id: string, body: { name?: string; is_active?: boolean; values?: Record<string, string> }) =>
    api.patch<ChannelConnection>(`bots/${botId}/channels/${id}`, body),
  remove: (botId: string, id: string) => api.delete(`bots/${botId}/channels/${id}`),
  test: (botId: string, id: string) => api.post<ActionResult>(`bots/${botId}/channels/${id}/test`),
  register: (botId: string, id: string) => api.post<ActionResult>(`bots/${botId}/channels/${id}/register`),
};
