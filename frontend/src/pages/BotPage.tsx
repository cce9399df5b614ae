// One bot: its settings and commands, web chat and its embed code, configuration (config.csv),
// memories, its chat platform channels (BotChannels), and a test chat in a side panel.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import { ai, type AIModel } from "../api/ai";
import { bots, type Bot, type BotCommand, type ChatMessage, type ConfigEntry, type Memory } from "../api/bots";
import type { Page, Workflow } from "../api/types";
import { CopyButton } from "../layout/CopyButton";
import { Empty, ErrorBox, Field } from "../layout/ui";
import { Link, navigate } from "../lib/router";
// Chat platform channels (Telegram, Slack, …): built by the channels part of issue 12.
import { BotChannels } from "./BotChannels";
import { Composer, Transcript } from "./ChatPanel";

export function BotPage({ botId }: { botId: string }) {
  const [bot, setBot] = useState<Bot | null>(null);
  const [workflows, setWorkflows] = useState<Workflow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [testing, setTesting] = useState(false);

  const load = useCallback(async () => {
    try {
      setBot(await bots.get(botId));
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [botId]);
  useEffect(() => {
    void load();
    api.get<Page<Workflow>>("workflows", { limit: 200 }).then((p) => setWorkflows(p.items), () => undefined);
  }, [load]);

  if (!bot) return <div className="page"><ErrorBox message={error} />{!error && <p className="muted">Loading…</p>}</div>;
  return (
    <div className="page" style={{ display: "flex", gap: 24, alignItems: "flex-start" }}>
      <div style={{ flex: 1, minWidth: 0 }}>
        <header className="page-head">
          <h1>{bot.name}</h1>
          <div className="actions" style={{ display: "flex", gap: 8 }}>
            <Link className="btn" to={`/conversations?bot=${bot.id}`}>Conversations</Link>
            <button className="btn btn-primary" onClick={() => setTesting((t) => !t)}>{testing ? "Close test chat" : "Test chat"}</button>
          </div>
        </header>
        <ErrorBox message={error} />
        <Settings bot={bot} workflows={workflows} onSaved={setBot} />
        <WebChat bot={bot} />
        <Commands bot={bot} workflows={workflows} onSaved={setBot} />
        {/* Chat platform channels: BotChannels (the channels part of issue 12) draws its own section. */}
        <BotChannels botId={bot.id} />
        <Configuration bot={bot} />
        <Memories bot={bot} />
        <section className="section">
          <h2>Delete</h2>
          <button className="btn btn-danger" onClick={() => confirm(`Delete ${bot.name} with its conversations?`) && void bots.remove(bot.id).then(() => navigate("/bots"), (e) => setError(errorMessage(e)))}>Delete this bot</button>
        </section>
      </div>
      {testing && <TestChat bot={bot} onClose={() => setTesting(false)} />}
    </div>
  );
}

function Settings({ bot, workflows, onSaved }: { bot: Bot; workflows: Workflow[]; onSaved: (b: Bot) => void }) {
  const [draft, setDraft] = useState(bot);
  const [llms, setLlms] = useState<AIModel[]>([]);
  useEffect(() => {
    ai.models().then((p) => setLlms(p.items.filter((m) => m.type === "llm")), () => undefined);
  }, []);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setDraft(bot);
  }, [bot]);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  const set = (patch: Partial<Bot>) => { setSaved(false); setDraft((d) => ({ ...d, ...patch })); };
  const setLimit = (key: keyof Bot["settings"], value: number) => set({ settings: { ...draft.settings, [key]: value } });
  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      const { name, description, avatar_url, welcome_message, dialog_workflow_id, ai_model_id, is_active, settings } = draft;
      onSaved(await bots.update(bot.id, { name, description: description || null, avatar_url: avatar_url || null, welcome_message: welcome_message || null, dialog_workflow_id, ai_model_id, is_active, settings }));
      setError(null);
      setSaved(true);
    } catch (e) {
      setError(e as Error);
    }
  }
  return (
    <section className="section">
      <h2>Settings</h2>
      <form className="form" onSubmit={submit}>
        <Field label="Name" error={fieldError("name")}><input value={draft.name} onChange={(e) => set({ name: e.target.value })} required /></Field>
        <Field label="Description"><input value={draft.description ?? ""} onChange={(e) => set({ description: e.target.value })} /></Field>
        <Field label="Avatar URL" error={fieldError("avatar_url")}><input value={draft.avatar_url ?? ""} onChange={(e) => set({ avatar_url: e.target.value })} placeholder="https://…" /></Field>
        <Field label="Welcome message" hint="Sent when a conversation starts."><textarea rows={2} value={draft.welcome_message ?? ""} onChange={(e) => set({ welcome_message: e.target.value })} /></Field>
        <Field label="Dialog workflow" hint="Answers every message no command takes; starts at its Chat trigger." error={fieldError("dialog_workflow_id")}>
          <select aria-label="Dialog workflow" value={draft.dialog_workflow_id ?? ""} onChange={(e) => set({ dialog_workflow_id: e.target.value || null })}>
            <option value="">None</option>
            {workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
          </select>
        </Field>
        {draft.dialog_workflow_id && <p className="muted small"><Link to={`/workflows/${draft.dialog_workflow_id}`}>Open the dialog workflow</Link></p>}
        <Field label="AI model" hint="The LLM its AI nodes use when they name none." error={fieldError("ai_model_id")}>
          <select aria-label="AI model" value={draft.ai_model_id ?? ""} onChange={(e) => set({ ai_model_id: e.target.value || null })}>
            <option value="">The organization's default</option>
            {llms.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select>
        </Field>
        <label className="switch-labelled"><input type="checkbox" checked={draft.is_active} onChange={(e) => set({ is_active: e.target.checked })} /> Active (an inactive bot refuses messages)</label>
        <details>
          <summary>Limits</summary>
          <Field label="Longest message (characters)"><input type="number" min={1} value={draft.settings.max_message_length} onChange={(e) => setLimit("max_message_length", Number(e.target.value))} /></Field>
          <Field label="Messages per person" hint="Within the window below; more are refused politely."><input type="number" min={1} value={draft.settings.flood_max_messages} onChange={(e) => setLimit("flood_max_messages", Number(e.target.value))} /></Field>
          <Field label="Flood window (seconds)"><input type="number" min={1} value={draft.settings.flood_window_s} onChange={(e) => setLimit("flood_window_s", Number(e.target.value))} /></Field>
          <Field label="Close idle conversations after (minutes)"><input type="number" min={1} value={draft.settings.session_idle_minutes} onChange={(e) => setLimit("session_idle_minutes", Number(e.target.value))} /></Field>
          <Field label="Keep messages (days, 0 = forever)"><input type="number" min={0} value={draft.settings.retention_days} onChange={(e) => setLimit("retention_days", Number(e.target.value))} /></Field>
        </details>
        {error && <ErrorBox message={errorMessage(error)} />}
        <div className="form-actions"><button className="btn btn-primary" type="submit">Save</button>{saved && <span className="muted"> Saved.</span>}</div>
      </form>
    </section>
  );
}

function WebChat({ bot }: { bot: Bot }) {
  const [on, setOn] = useState(bot.settings.web_chat_enabled);
  const [origins, setOrigins] = useState(bot.settings.web_chat_origins.join("\n"));
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const origin = window.location.origin;
  const snippet = `<script src="${origin}/chat/widget.js" data-bot="${bot.public_id}" defer></script>`;
  async function save() {
    try {
      const list = origins.split(/\s+/).map((o) => o.trim()).filter(Boolean);
      await bots.update(bot.id, { settings: { ...bot.settings, web_chat_enabled: on, web_chat_origins: list } });
      setError(null);
      setSaved(true);
    } catch (e) {
      setError(errorMessage(e));
    }
  }
  return (
    <section className="section">
      <h2>Web chat</h2>
      <label className="switch-labelled"><input type="checkbox" checked={on} onChange={(e) => { setOn(e.target.checked); setSaved(false); }} /> Public web chat on</label>
      <Field label="Sites allowed to embed it" hint="One origin a line, e.g. https://shop.example.com. Empty: any site.">
        <textarea rows={2} value={origins} onChange={(e) => { setOrigins(e.target.value); setSaved(false); }} />
      </Field>
      <ErrorBox message={error} />
      <div className="form-actions"><button className="btn" onClick={() => void save()}>Save web chat</button>{saved && <span className="muted"> Saved.</span>}</div>
      <p className="muted">Paste on any page, before <code>&lt;/body&gt;</code>:</p>
      <div className="copy-row"><code className="mono ellipsis">{snippet}</code><CopyButton text={snippet} /></div>
      <p className="muted">Hosted chat page: <a href={`/chat/${bot.public_id}`} target="_blank" rel="noreferrer">{origin}/chat/{bot.public_id}</a></p>
    </section>
  );
}

function Commands({ bot, workflows, onSaved }: { bot: Bot; workflows: Workflow[]; onSaved: (b: Bot) => void }) {
  const [rows, setRows] = useState<BotCommand[]>(bot.commands ?? []);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setRows(bot.commands ?? []);
  }, [bot]);
  const update = (i: number, patch: Partial<BotCommand>) => setRows((r) => r.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  async function save() {
    try {
      onSaved(await bots.update(bot.id, { commands: rows.map(({ command, description, workflow_id }) => ({ command, description, workflow_id })) }));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }
  return (
    <section className="section">
      <h2>Commands</h2>
      <p className="muted">A message that matches a command runs its workflow with the parsed arguments (<code>json.command</code>, <code>json.args</code>); others go to the dialog. Arguments: <code>[string]</code> one word, <code>[text]</code> the rest, <code>[int]</code>, <code>[number]</code>, <code>[bool]</code>; name them like <code>[text:what]</code>.</p>
      {rows.length > 0 && (
        <table className="table">
          <thead><tr><th>Command</th><th>Workflow</th><th>Description</th><th /></tr></thead>
          <tbody>
            {rows.map((c, i) => (
              <tr key={i}>
                <td><input aria-label="Command" value={c.command} placeholder="todo add [text:what]" onChange={(e) => update(i, { command: e.target.value })} /></td>
                <td>
                  <select aria-label="Command workflow" value={c.workflow_id} onChange={(e) => update(i, { workflow_id: e.target.value })}>
                    <option value="">Choose…</option>
                    {workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
                  </select>
                </td>
                <td><input aria-label="Description" value={c.description ?? ""} onChange={(e) => update(i, { description: e.target.value })} /></td>
                <td className="row-actions"><button className="btn btn-small btn-danger" onClick={() => setRows((r) => r.filter((_, j) => j !== i))}>Remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox message={error} />
      <div className="form-actions">
        <button className="btn" onClick={() => setRows((r) => [...r, { command: "", description: null, workflow_id: "" }])}>Add command</button>
        <button className="btn btn-primary" onClick={() => void save()}>Save commands</button>
      </div>
    </section>
  );
}

function Configuration({ bot }: { bot: Bot }) {
  const [entries, setEntries] = useState<ConfigEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const load = useCallback(() => bots.config(bot.id).then(setEntries, (e) => setError(errorMessage(e))), [bot.id]);
  useEffect(() => void load(), [load]);
  async function upload(replace: boolean) {
    const chosen = file.current?.files?.[0];
    if (!chosen) return;
    try {
      const result = await bots.importCsv(bot.id, await chosen.text(), replace);
      setNote(`Imported ${result.imported} settings.`);
      setError(null);
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
    if (file.current) file.current.value = "";
  }
  return (
    <section className="section">
      <h2>Configuration</h2>
      <p className="muted">Key/value settings as General Bots packages carry them in <code>config.csv</code> (<code>name,value</code>).</p>
      {entries.length === 0 ? <Empty><p>No settings.</p></Empty> : (
        <table className="table">
          <thead><tr><th>Name</th><th>Value</th></tr></thead>
          <tbody>{entries.map((e) => <tr key={e.name}><td><code>{e.name}</code></td><td className="mono ellipsis">{e.value}</td></tr>)}</tbody>
        </table>
      )}
      <ErrorBox message={error} />
      {note && <p className="muted">{note}</p>}
      <div className="form-actions" style={{ display: "flex", gap: 8, alignItems: "center" }}>
        <input ref={file} type="file" accept=".csv,text/csv" aria-label="config.csv file" />
        <button className="btn" onClick={() => void upload(false)}>Import</button>
        <button className="btn" onClick={() => void upload(true)}>Replace all</button>
        <a className="btn" href={bots.csvUrl(bot.id)} download="config.csv">Download config.csv</a>
      </div>
    </section>
  );
}

function Memories({ bot }: { bot: Bot }) {
  const [items, setItems] = useState<Memory[]>([]);
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => bots.memories(bot.id).then((p) => setItems(p.items), (e) => setError(errorMessage(e))), [bot.id]);
  useEffect(() => void load(), [load]);
  async function add(event: FormEvent) {
    event.preventDefault();
    let parsed: unknown = value;
    try { parsed = JSON.parse(value); } catch { /* plain text */ }
    try {
      await bots.setMemory(bot.id, key, parsed);
      setKey("");
      setValue("");
      setError(null);
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  }
  return (
    <section className="section">
      <h2>Memories</h2>
      <p className="muted">What the bot remembers: its own values, and each person's (set by Bot memory nodes).</p>
      {items.length === 0 ? <Empty><p>Nothing remembered yet.</p></Empty> : (
        <table className="table">
          <thead><tr><th>Whose</th><th>Key</th><th>Value</th><th /></tr></thead>
          <tbody>
            {items.map((m) => (
              <tr key={`${m.user_key}/${m.key}`}>
                <td className="muted">{m.user_key || "the bot"}</td>
                <td><code>{m.key}</code></td>
                <td className="mono ellipsis">{JSON.stringify(m.value)}</td>
                <td className="row-actions"><button className="btn btn-small btn-danger" onClick={() => void bots.deleteMemory(bot.id, m.key, m.user_key).then(load, (e) => setError(errorMessage(e)))}>Forget</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="row" onSubmit={add} style={{ display: "flex", gap: 8, marginTop: 8 }}>
        <input aria-label="Memory key" placeholder="key" value={key} onChange={(e) => setKey(e.target.value)} required />
        <input aria-label="Memory value" placeholder='value (text or JSON)' value={value} onChange={(e) => setValue(e.target.value)} style={{ flex: 1 }} />
        <button className="btn" type="submit">Remember</button>
      </form>
      <ErrorBox message={error} />
    </section>
  );
}

function TestChat({ bot, onClose }: { bot: Bot; onClose: () => void }) {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [chatId] = useState(() => `test-${Math.random().toString(36).slice(2, 10)}`);
  async function send(text: string) {
    const mine: ChatMessage = { id: `local-${Date.now()}`, session_id: "", bot_id: bot.id, role: "user", sender: null, content: text, channel: "rest", delivery: "received", attempts: 0, error: null, tokens: 0, latency_ms: null, model: null, created_at: new Date().toISOString() };
    setMessages((m) => [...m, mine]);
    try {
      const result = await bots.send(bot.id, text, chatId);
      setMessages((m) => [...m, ...result.replies]);
      setError(result.routed_to === null && result.replies.length === 0 ? "No answer: the bot has no dialog workflow, or the conversation is taken over." : null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }
  return (
    <aside className="side-panel" aria-label="Test chat" style={{ width: 360, flex: "none", position: "sticky", top: 16 }}>
      <div className="side-panel-head" style={{ display: "flex", justifyContent: "space-between", alignItems: "center" }}>
        <strong>Test chat</strong>
        <button className="btn-icon" onClick={onClose} aria-label="Close test chat">×</button>
      </div>
      <p className="muted small">You talk to the bot as yourself, over the REST channel (a new conversation each time you open this).</p>
      <div style={{ maxHeight: "60vh", overflowY: "auto", padding: "8px 0" }}>
        <Transcript messages={messages} empty="Say something to start." />
      </div>
      <ErrorBox message={error} />
      <Composer onSend={send} />
    </aside>
  );
}
