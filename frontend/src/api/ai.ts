// AI models and token usage (/api/v1/ai): types and calls.
import { api } from "./client";
import type { Page } from "./types";

export type Provider = "openai" | "anthropic" | "local";
export type ModelType = "llm" | "embedding";

export interface ModelSettings {
  base_url?: string;
  temperature?: number;
  max_tokens?: number;
  timeout_s?: number;
  dimensions?: number;
}

export interface AIModel {
  id: string;
  name: string;
  provider: Provider;
  model_id: string;
  type: ModelType;
  description: string | null;
  is_active: boolean;
  configuration: ModelSettings;
  credential_id: string | null;
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

export interface AIModelInput {
  name: string;
  provider: Provider;
  model_id: string;
  type: ModelType;
  description?: string | null;
  configuration: ModelSettings;
  credential_id: string | null;
}

export interface BuiltinEmbedding {
  name: string;
  model_id: string;
  dimensions: number;
  key: string;
  in_use_as_default: boolean;
}

export interface ModelTest {
  ok: boolean;
  latency_ms: number;
  answer: string | null;
  model: string | null;
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  dimensions: number | null;
  error: string | null;
}

export interface UsageTotal {
  model_id: string | null;
  name: string | null;
  model_name: string;
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface Usage {
  items: UsageTotal[];
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  calls: number;
}

/** The credential type holding each provider's key. */
export const KEY_TYPES: Record<Provider, string | null> = { openai: "openai_api", anthropic: "anthropic_api", local: null };

export const ai = {
  models: () => api.get<Page<AIModel>>("ai/models", { limit: 200 }),
  create: (body: AIModelInput) => api.post<AIModel>("ai/models", body),
  update: (id: string, body: Partial<AIModelInput> & { is_active?: boolean }) => api.patch<AIModel>(`ai/models/${id}`, body),
  remove: (id: string) => api.delete(`ai/models/${id}`),
  test: (id: string) => api.post<ModelTest>(`ai/models/${id}/test`),
  makeDefault: (id: string) => api.post<AIModel>(`ai/models/${id}/default`),
  unsetDefault: (id: string) => api.delete(`ai/models/${id}/default`),
  builtin: () => api.get<BuiltinEmbedding>("ai/builtin-embedding"),
  usage: (query?: { since?: string; execution_id?: string; session_id?: string }) => api.get<Usage>("ai/usage", query),
};
