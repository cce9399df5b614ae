// AI models of the organization: add (provider, model id, base URL, key from a credential, type,
// settings), test (the answer and latency, or why it failed), make the default per type, edit,
// delete; the built-in embedding model used when no embedding model is the default; tokens used.
import { Fragment, useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import { ai, KEY_TYPES, type AIModel, type BuiltinEmbedding, type ModelSettings, type ModelTest, type ModelType, type Provider, type Usage } from "../api/ai";
import type { Credential } from "../api/types";
import { Empty, ErrorBox, Field, Modal } from "../layout/ui";
import { CredentialForm } from "./CredentialForm";

const PROVIDERS: { value: Provider; label: string; url: string }[] = [
  { value: "openai", label: "OpenAI-compatible (OpenAI, Ollama, llama.cpp, vLLM, LM Studio)", url: "https://api.openai.com/v1" },
  { value: "anthropic", label: "Anthropic", url: "https://api.anthropic.com" },
];

const SINCE: { label: string; hours: number | null }[] = [
  { label: "All time", hours: null },
  { label: "Last 24 hours", hours: 24 },
  { label: "Last 7 days", hours: 24 * 7 },
  { label: "Last 30 days", hours: 24 * 30 },
];

export function AIModelsPage() {
  const [items, setItems] = useState<AIModel[]>([]);
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [builtin, setBuiltin] = useState<BuiltinEmbedding | null>(null);
  const [editing, setEditing] = useState<AIModel | "new" | null>(null);
  const [tests, setTests] = useState<Record<string, ModelTest | "running">>({});
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [models, creds, local] = await Promise.all([ai.models(), api.get<Credential[]>("credentials"), ai.builtin()]);
      setItems(models.items);
      setCredentials(creds);
      setBuiltin(local);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const act = (work: Promise<unknown>) => work.then(() => { setError(null); return load(); }, (e) => setError(errorMessage(e)));
  async function test(model: AIModel) {
    setTests((t) => ({ ...t, [model.id]: "running" }));
    try {
      const result = await ai.test(model.id);
      setTests((t) => ({ ...t, [model.id]: result }));
    } catch (e) {
      setTests((t) => ({ ...t, [model.id]: { ok: false, error: errorMessage(e), latency_ms: 0, answer: null, model: null, usage: null, dimensions: null } }));
    }
  }
  const credentialName = (id: string | null) => (id ? credentials.find((c) => c.id === id)?.name ?? "a credential" : "none");

  return (
    <div className="page">
      <header className="page-head">
        <h1>AI models</h1>
        <button className="btn btn-primary" onClick={() => setEditing("new")}>Add model</button>
      </header>
      <p className="muted">LLMs answer in AI nodes and bots; embedding models turn knowledge-base text into vectors. A node or bot uses the model it names, else the default of its type.</p>
      <ErrorBox message={error} />
      {items.length === 0 ? (
        <Empty><p>No models yet. Add an LLM (OpenAI, Anthropic, or a local server such as Ollama) to use the AI nodes.</p></Empty>
      ) : (
        <table className="table" aria-label="AI models">
          <thead><tr><th>Name</th><th>Type</th><th>Provider</th><th>Model</th><th>Key</th><th>Default</th><th /></tr></thead>
          <tbody>
            {items.map((m) => {
              const result = tests[m.id];
              return (
                <Fragment key={m.id}>
                  <tr data-model={m.name}>
                    <td className="strong">{m.name}{!m.is_active && <> <span className="badge badge-cancelled">inactive</span></>}{m.description && <div className="muted small">{m.description}</div>}</td>
                    <td>{m.type === "llm" ? "LLM" : "Embedding"}</td>
                    <td className="muted">{m.provider}{m.configuration.base_url && <div className="small">{m.configuration.base_url}</div>}</td>
                    <td><code>{m.model_id}</code></td>
                    <td className="muted">{credentialName(m.credential_id)}</td>
                    <td>{m.is_default ? <span className="badge badge-completed">default {m.type === "llm" ? "LLM" : "embedding"}</span> : <span className="muted">—</span>}</td>
                    <td className="row-actions">
                      <button className="btn btn-small" disabled={result === "running"} onClick={() => void test(m)}>{result === "running" ? "Testing…" : "Test"}</button>
                      {m.is_default
                        ? <button className="btn btn-small" onClick={() => void act(ai.unsetDefault(m.id))}>Unset default</button>
                        : <button className="btn btn-small" disabled={!m.is_active} onClick={() => void act(ai.makeDefault(m.id))}>Make default</button>}
                      <button className="btn btn-small" onClick={() => setEditing(m)}>Edit</button>
                      <button className="btn btn-small btn-danger" onClick={() => confirm(`Delete the model "${m.name}"?`) && void act(ai.remove(m.id))}>Delete</button>
                    </td>
                  </tr>
                  {result && result !== "running" && (
                    <tr><td colSpan={7}><TestResult result={result} /></td></tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
      {builtin && (
        <section className="section" aria-label="Built-in embedding model">
          <h2>Built-in embedding model</h2>
          <p>
            <strong>{builtin.name}</strong> ({builtin.dimensions} dimensions) runs inside Wirework, with no server or key.{" "}
            {builtin.in_use_as_default
              ? <span className="badge badge-completed">in use: no embedding model is the default</span>
              : <span className="muted">Knowledge bases use it when they name no model and no embedding model is the default (now one is).</span>}
          </p>
        </section>
      )}
      <UsageSection />
      {editing && (
        <Modal title={editing === "new" ? "Add AI model" : `Edit ${editing.name}`} onClose={() => setEditing(null)} wide>
          <ModelForm
            existing={editing === "new" ? undefined : editing}
            credentials={credentials}
            onCredential={(c) => setCredentials((all) => [...all, c])}
            onSaved={() => { setEditing(null); void load(); }}
          />
        </Modal>
      )}
    </div>
  );
}

function TestResult({ result }: { result: ModelTest }) {
  if (!result.ok) return <div className="alert alert-error" role="alert">Test failed: {result.error}</div>;
  const usage = result.usage ? ` (${result.usage.prompt_tokens} + ${result.usage.completion_tokens} tokens)` : "";
  return (
    <div className="alert alert-success" role="status">
      {result.dimensions != null
        ? <>Works: vectors of {result.dimensions} numbers, in {Math.round(result.latency_ms)} ms.</>
        : <>Works: answered “{result.answer}” in {Math.round(result.latency_ms)} ms{usage}{result.model ? `, as ${result.model}` : ""}.</>}
    </div>
  );
}

function numberOrUndefined(value: string): number | undefined {
  return value.trim() === "" ? undefined : Number(value);
}

function ModelForm({ existing, credentials, onCredential, onSaved }: {
  existing?: AIModel;
  credentials: Credential[];
  onCredential: (c: Credential) => void;
  onSaved: () => void;
}) {
  const [name, setName] = useState(existing?.name ?? "");
  const [provider, setProvider] = useState<Provider>(existing?.provider ?? "openai");
  const [type, setType] = useState<ModelType>(existing?.type ?? "llm");
  const [modelId, setModelId] = useState(existing?.model_id ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [credentialId, setCredentialId] = useState(existing?.credential_id ?? "");
  const [settings, setSettings] = useState<Record<keyof ModelSettings, string>>({
    base_url: existing?.configuration.base_url ?? "",
    temperature: existing?.configuration.temperature?.toString() ?? "",
    max_tokens: existing?.configuration.max_tokens?.toString() ?? "",
    timeout_s: existing?.configuration.timeout_s?.toString() ?? "",
    dimensions: existing?.configuration.dimensions?.toString() ?? "",
  });
  const [newKey, setNewKey] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const keyType = KEY_TYPES[provider];
  const keys = credentials.filter((c) => c.type === keyType);
  const chosen = PROVIDERS.find((p) => p.value === provider);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  const set = (key: keyof ModelSettings, value: string) => setSettings((s) => ({ ...s, [key]: value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    const configuration: ModelSettings = {
      base_url: settings.base_url.trim() || undefined,
      timeout_s: numberOrUndefined(settings.timeout_s),
      ...(type === "llm"
        ? { temperature: numberOrUndefined(settings.temperature), max_tokens: numberOrUndefined(settings.max_tokens) }
        : { dimensions: numberOrUndefined(settings.dimensions) }),
    };
    const body = { name, model_id: modelId, description: description || null, configuration, credential_id: credentialId || null };
    try {
      if (existing) await ai.update(existing.id, body);
      else await ai.create({ ...body, provider, type });
      onSaved();
    } catch (e) {
      setError(e as Error);
    }
  }

  if (newKey && keyType) {
    return (
      <div>
        <p className="muted">A new {provider === "anthropic" ? "Anthropic" : "OpenAI-compatible"} key, kept encrypted with the credentials.</p>
        <CredentialForm type={keyType} onSaved={(c) => { onCredential(c); setCredentialId(c.id); setNewKey(false); }} />
        <button className="btn" onClick={() => setNewKey(false)}>Back</button>
      </div>
    );
  }
  return (
    <form className="form" onSubmit={submit}>
      {error && !(error instanceof ApiError && error.errors.length) && <ErrorBox message={errorMessage(error)} />}
      <Field label="Name" error={fieldError("name")}>
        <input aria-label="Model name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
      </Field>
      <Field label="Provider" error={fieldError("provider")}>
        <select aria-label="Provider" value={provider} disabled={Boolean(existing)} onChange={(e) => { const p = e.target.value as Provider; setProvider(p); setCredentialId(""); if (p === "anthropic") setType("llm"); }}>
          {PROVIDERS.map((p) => <option key={p.value} value={p.value}>{p.label}</option>)}
        </select>
      </Field>
      <Field label="Type" error={fieldError("type")} hint={type === "embedding" ? "Turns text into vectors for knowledge bases." : "Answers prompts, calls tools."}>
        <select aria-label="Type" value={type} disabled={Boolean(existing)} onChange={(e) => setType(e.target.value as ModelType)}>
          <option value="llm">LLM</option>
          {provider === "openai" && <option value="embedding">Embedding</option>}
        </select>
      </Field>
      <Field label="Model id" error={fieldError("model_id")} hint={provider === "anthropic" ? "e.g. claude-3-5-haiku-latest" : type === "llm" ? "e.g. gpt-4o-mini, or llama3.2 on Ollama" : "e.g. text-embedding-3-small, or nomic-embed-text on Ollama"}>
        <input aria-label="Model id" value={modelId} onChange={(e) => setModelId(e.target.value)} required />
      </Field>
      <Field label="Base URL" error={fieldError("configuration.base_url")} hint={`Empty: ${chosen?.url}. Ollama: http://localhost:11434/v1 (a server on this machine or a private network must be allowed by the operator with WIREWORK_HTTP_ALLOW_HOSTS).`}>
        <input aria-label="Base URL" value={settings.base_url} placeholder={chosen?.url} onChange={(e) => set("base_url", e.target.value)} />
      </Field>
      <Field label="API key" error={fieldError("credential_id")} hint="A credential holding the key; none for a server without keys.">
        <div className="row">
          <select aria-label="API key credential" value={credentialId} onChange={(e) => setCredentialId(e.target.value)}>
            <option value="">None</option>
            {keys.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
          <button type="button" className="btn btn-small" onClick={() => setNewKey(true)}>New key…</button>
        </div>
      </Field>
      {type === "llm" ? (
        <div className="row">
          <Field label="Temperature" error={fieldError("configuration.temperature")}>
            <input aria-label="Temperature" type="number" step="0.1" min="0" max="2" value={settings.temperature} onChange={(e) => set("temperature", e.target.value)} />
          </Field>
          <Field label="Max tokens" error={fieldError("configuration.max_tokens")}>
            <input aria-label="Max tokens" type="number" min="1" value={settings.max_tokens} onChange={(e) => set("max_tokens", e.target.value)} />
          </Field>
          <Field label="Timeout (s)" error={fieldError("configuration.timeout_s")}>
            <input aria-label="Timeout" type="number" min="1" max="600" placeholder="60" value={settings.timeout_s} onChange={(e) => set("timeout_s", e.target.value)} />
          </Field>
        </div>
      ) : (
        <div className="row">
          <Field label="Dimensions" error={fieldError("configuration.dimensions")} hint="The size of its vectors; checked on every answer.">
            <input aria-label="Dimensions" type="number" min="1" value={settings.dimensions} onChange={(e) => set("dimensions", e.target.value)} />
          </Field>
          <Field label="Timeout (s)" error={fieldError("configuration.timeout_s")}>
            <input aria-label="Timeout" type="number" min="1" max="600" placeholder="60" value={settings.timeout_s} onChange={(e) => set("timeout_s", e.target.value)} />
          </Field>
        </div>
      )}
      <Field label="Description" error={fieldError("description")}>
        <input aria-label="Description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <div className="form-actions">
        <button className="btn btn-primary" type="submit">{existing ? "Save" : "Add model"}</button>
      </div>
    </form>
  );
}

function UsageSection() {
  const [since, setSince] = useState<number | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const query = since === null ? undefined : { since: new Date(Date.now() - since * 3600_000).toISOString() };
    ai.usage(query).then(setUsage, (e) => setError(errorMessage(e)));
  }, [since]);
  return (
    <section className="section" aria-label="Token usage">
      <div className="row">
        <h2>Tokens used</h2>
        <select aria-label="Usage period" value={since ?? ""} onChange={(e) => setSince(e.target.value === "" ? null : Number(e.target.value))}>
          {SINCE.map((s) => <option key={s.label} value={s.hours ?? ""}>{s.label}</option>)}
        </select>
      </div>
      <ErrorBox message={error} />
      {usage && (usage.items.length === 0 ? (
        <p className="muted">No model calls yet.</p>
      ) : (
        <table className="table">
          <thead><tr><th>Model</th><th>Calls</th><th>Prompt</th><th>Completion</th><th>Total</th></tr></thead>
          <tbody>
            {usage.items.map((u) => (
              <tr key={`${u.model_id}-${u.model_name}`}>
                <td>{u.name ?? <span className="muted">deleted</span>} <code>{u.model_name}</code></td>
                <td>{u.calls}</td><td>{u.prompt_tokens}</td><td>{u.completion_tokens}</td><td className="strong">{u.total_tokens}</td>
              </tr>
            ))}
            <tr><td className="strong">All</td><td>{usage.calls}</td><td>{usage.prompt_tokens}</td><td>{usage.completion_tokens}</td><td className="strong">{usage.total_tokens}</td></tr>
          </tbody>
        </table>
      ))}
    </section>
  );
}
