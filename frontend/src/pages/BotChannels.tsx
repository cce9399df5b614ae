// A bot's chat platform connections: list them, connect one with the platform's step-by-step set-up
// (fields, where to find them, the inbound URL to paste), test, register, pause and remove.
// The platforms, their fields and steps come from the server (channels/registry.py): one source.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/client";
import { channels, type ActionResult, type ChannelConnection, type ChannelConnectionCreated, type ChatPlatform } from "../api/channels";
import { CopyButton } from "../layout/CopyButton";
import { Empty, ErrorBox, Field, Modal, timeAgo } from "../layout/ui";

export function BotChannels({ botId }: { botId: string }) {
  const [platforms, setPlatforms] = useState<ChatPlatform[]>([]);
  const [items, setItems] = useState<ChannelConnection[]>([]);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [results, setResults] = useState<Record<string, ActionResult>>({});

  const load = useCallback(async () => {
    try {
      const [p, c] = await Promise.all([channels.platforms(botId), channels.list(botId)]);
      setPlatforms(p);
      setItems(c);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [botId]);
  useEffect(() => void load(), [load]);

  const byName = Object.fromEntries(platforms.map((p) => [p.name, p]));

  async function act(connection: ChannelConnection, action: "test" | "register") {
    try {
      const result = await channels[action](botId, connection.id);
      setResults((r) => ({ ...r, [connection.id]: result }));
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  async function toggle(connection: ChannelConnection) {
    try {
      await channels.update(botId, connection.id, { is_active: !connection.is_active });
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  async function remove(connection: ChannelConnection) {
    if (!confirm(`Disconnect ${connection.name}? Its inbound URL stops working and its secrets are deleted.`)) return;
    try {
      await channels.remove(botId, connection.id);
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  return (
    <section className="bot-channels" aria-label="Channels">
      <header className="page-head">
        <h2>Channels</h2>
        <button className="btn btn-primary" onClick={() => setAdding(true)}>Connect a platform</button>
      </header>
      <p className="muted">Chat platforms this bot talks on. Each one calls its own inbound URL; replies go back the same way.</p>
      <ErrorBox message={error} />
      {items.length === 0 ? (
        <Empty><p>Not connected to any chat platform yet.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Platform</th><th>Connection and inbound URL</th><th>Status</th><th>Last message in</th><th /></tr></thead>
          <tbody>
            {items.map((c) => {
              const platform = byName[c.platform];
              const result = results[c.id];
              return (
                <tr key={c.id} data-testid={`channel-${c.platform}`}>
                  <td>{platform?.display_name ?? c.platform}</td>
                  <td>
                    <div className="strong">{c.name}</div>
                    {typeof c.settings.bot_username === "string" && <div className="muted small">@{c.settings.bot_username}</div>}
                    <div className="copy-row"><code className="mono small ellipsis" style={{ maxWidth: 300 }} title={c.inbound_url}>{c.inbound_url}</code><CopyButton text={c.inbound_url} label="Copy URL" /></div>
                  </td>
                  <td>
                    <span className={`badge ${c.is_active ? "badge-completed" : "badge-cancelled"}`}>{c.is_active ? "active" : "paused"}</span>
                    {c.last_error && <div className="status-failed small" role="alert" title={c.last_error}>{c.last_error}</div>}
                    {result && <div className={`small ${result.ok ? "status-completed" : "status-failed"}`} data-testid="channel-result">{result.detail}</div>}
                  </td>
                  <td className="muted">{timeAgo(c.last_inbound_at)}</td>
                  <td className="row-actions">
                    {platform?.can_test && <button className="btn btn-small" onClick={() => void act(c, "test")}>Test</button>}
                    {platform?.can_register && <button className="btn btn-small" onClick={() => void act(c, "register")}>Register webhook</button>}
                    <button className="btn btn-small" onClick={() => void toggle(c)}>{c.is_active ? "Pause" : "Resume"}</button>
                    <button className="btn btn-small btn-danger" onClick={() => void remove(c)}>Remove</button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {adding && (
        <Modal title="Connect a chat platform" wide onClose={() => { setAdding(false); void load(); }}>
          <ConnectForm botId={botId} platforms={platforms} onDone={() => { setAdding(false); void load(); }} />
        </Modal>
      )}
    </section>
  );
}

function ConnectForm({ botId, platforms, onDone }: { botId: string; platforms: ChatPlatform[]; onDone: () => void }) {
  const [platform, setPlatform] = useState<ChatPlatform | null>(null);
  const [name, setName] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [created, setCreated] = useState<ChannelConnectionCreated | null>(null);
  const [result, setResult] = useState<ActionResult | null>(null);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);

  if (!platform) {
    return (
      <div className="cards">
        {platforms.map((p) => (
          <article className="card" key={p.name}>
            <div className="card-head"><h3>{p.display_name}</h3></div>
            <p className="muted">{p.setup_steps[0]}</p>
            <div className="card-foot">
              <button className="btn btn-primary btn-small" onClick={() => { setPlatform(p); setName(`${p.display_name} bot`); }}>
                Set up {p.display_name}
              </button>
            </div>
          </article>
        ))}
      </div>
    );
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!platform) return;
    setError(null);
    try {
      const filled = Object.fromEntries(Object.entries(values).filter(([, v]) => v.trim() !== ""));
      setCreated(await channels.create(botId, platform.name, name, filled));
    } catch (e) {
      setError(e as Error);
    }
  }

  async function act(action: "test" | "register") {
    if (!created) return;
    try {
      setResult(await channels[action](botId, created.id));
    } catch (e) {
      setError(e as Error);
    }
  }

  const steps = (
    <ol className="setup-steps">
      {platform.setup_steps.map((step, i) => <li key={i}>{step}</li>)}
    </ol>
  );

  if (created) {
    return (
      <div className="form">
        <div className="alert alert-success">Connected. Finish the set-up on {platform.display_name}:</div>
        <Field label="Inbound URL" hint={`Paste it into ${platform.display_name} (see the steps below).`}>
          <div className="copy-row"><code className="mono" data-testid="inbound-url">{created.inbound_url}</code><CopyButton text={created.inbound_url} /></div>
        </Field>
        {Object.entries(created.secrets).map(([key, value]) => {
          const field = platform.fields.find((f) => f.name === key);
          return (
            <Field key={key} label={field?.label ?? key} hint="Shown this once: copy it now if the platform needs it.">
              <div className="copy-row"><code className="mono" data-testid={`secret-${key}`}>{value}</code><CopyButton text={value} /></div>
            </Field>
          );
        })}
        {steps}
        {result && <div className={`alert ${result.ok ? "alert-success" : "alert-error"}`} role="status" data-testid="connect-result">{result.detail}{result.ok && typeof result.info.bot_username === "string" ? ` (@${result.info.bot_username})` : ""}</div>}
        <ErrorBox message={error ? errorMessage(error) : null} />
        <div className="form-actions">
          {platform.can_register && <button className="btn" onClick={() => void act("register")}>Register webhook</button>}
          {platform.can_test && <button className="btn" onClick={() => void act("test")}>Test connection</button>}
          <button className="btn btn-primary" onClick={onDone}>Done</button>
        </div>
      </div>
    );
  }

  return (
    <form className="form" onSubmit={submit} aria-label={`Set up ${platform.display_name}`}>
      <p><button type="button" className="btn btn-ghost btn-small" onClick={() => setPlatform(null)}>← Other platforms</button></p>
      <h3>{platform.display_name}: step by step</h3>
      {steps}
      <Field label="Connection name" error={fieldError("name")}>
        <input aria-label="Connection name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      {platform.fields.map((f) => (
        <Field key={f.name} label={f.label + (f.required ? "" : " (optional)")} hint={f.help} error={fieldError(`values.${f.name}`)}>
          <input
            aria-label={f.label}
            type={f.secret ? "password" : "text"}
            autoComplete="off"
            value={values[f.name] ?? ""}
            onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
            required={f.required}
            placeholder={f.generated ? "leave empty to generate one" : undefined}
          />
        </Field>
      ))}
      <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
      <div className="form-actions"><button className="btn btn-primary" type="submit">Connect</button></div>
    </form>
  );
}

export default BotChannels;
