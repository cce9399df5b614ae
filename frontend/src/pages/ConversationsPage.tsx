// Conversations of the organization's bots: list (by bot and channel), search messages, open one
// as a transcript with each message's channel, tokens and latency; take over by hand.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { errorMessage } from "../api/client";
import { bots, conversations, type Bot, type ChatMessage, type ChatSession } from "../api/bots";
import { Empty, ErrorBox, timeAgo } from "../layout/ui";
import { Link, navigate, useLocation } from "../lib/router";
import { Composer, Transcript } from "./ChatPanel";

export function ConversationsPage() {
  const { query } = useLocation();
  const botFilter = query.get("bot") ?? "";
  const [items, setItems] = useState<ChatSession[]>([]);
  const [botList, setBotList] = useState<Bot[]>([]);
  const [search, setSearch] = useState("");
  const [found, setFound] = useState<ChatMessage[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setItems((await conversations.list({ bot_id: botFilter || undefined })).items);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [botFilter]);
  useEffect(() => {
    void load();
    bots.list().then((p) => setBotList(p.items), () => undefined);
  }, [load]);
  const names = Object.fromEntries(botList.map((b) => [b.id, b.name]));

  async function find(event: FormEvent) {
    event.preventDefault();
    if (!search.trim()) return setFound(null);
    try {
      setFound((await conversations.search(search.trim(), botFilter || undefined)).items);
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  return (
    <div className="page">
      <header className="page-head"><h1>Conversations</h1></header>
      <div className="toolbar" style={{ display: "flex", gap: 8, marginBottom: 12 }}>
        <select aria-label="Bot" value={botFilter} onChange={(e) => navigate(e.target.value ? `/conversations?bot=${e.target.value}` : "/conversations")}>
          <option value="">All bots</option>
          {botList.map((b) => <option key={b.id} value={b.id}>{b.name}</option>)}
        </select>
        <form onSubmit={find} style={{ display: "flex", gap: 8, flex: 1 }}>
          <input className="search" style={{ flex: 1 }} aria-label="Search messages" placeholder="Search messages…" value={search} onChange={(e) => setSearch(e.target.value)} />
          <button className="btn" type="submit">Search</button>
        </form>
      </div>
      <ErrorBox message={error} />
      {found ? (
        <>
          <p className="muted">{found.length} message{found.length === 1 ? "" : "s"} found <button className="btn btn-small" onClick={() => { setFound(null); setSearch(""); }}>Clear</button></p>
          <table className="table">
            <thead><tr><th>Message</th><th>From</th><th>Bot</th><th>When</th></tr></thead>
            <tbody>
              {found.map((m) => (
                <tr key={m.id}>
                  <td><Link to={`/conversations/${m.session_id}`}>{m.content.slice(0, 140)}</Link></td>
                  <td className="muted">{m.sender ?? m.role}</td>
                  <td className="muted">{names[m.bot_id] ?? ""}</td>
                  <td className="muted">{timeAgo(m.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : items.length === 0 ? (
        <Empty><p>No conversations yet. Talk to a bot from its page (Test chat), its web chat, or a connected platform.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Conversation</th><th>Bot</th><th>Channel</th><th>Messages</th><th>State</th><th>Last activity</th></tr></thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id}>
                <td><Link to={`/conversations/${s.id}`}>{s.title ?? "(untitled)"}</Link></td>
                <td className="muted">{names[s.bot_id] ?? ""}</td>
                <td><span className="tag">{s.channel}</span></td>
                <td className="muted">{s.message_count}</td>
                <td className="muted">{state(s)}</td>
                <td className="muted">{timeAgo(s.last_activity_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function state(s: ChatSession): string {
  if (s.closed_at) return "closed";
  if (s.taken_over_by) return "taken over";
  if (s.waiting) return "waiting for an answer";
  return "open";
}

export function ConversationPage({ sessionId }: { sessionId: string }) {
  const [session, setSession] = useState<ChatSession | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const [s, page] = await Promise.all([conversations.get(sessionId), conversations.messages(sessionId)]);
      setSession(s);
      setMessages(page.items);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [sessionId]);
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), 3000); // new messages show without a reload
    return () => window.clearInterval(timer);
  }, [load]);

  if (!session) return <div className="page"><ErrorBox message={error} />{!error && <p className="muted">Loading…</p>}</div>;
  const act = (call: () => Promise<unknown>) => call().then(load, (e) => setError(errorMessage(e)));
  return (
    <div className="page">
      <header className="page-head">
        <h1>{session.title ?? "Conversation"}</h1>
        <div style={{ display: "flex", gap: 8 }}>
          {!session.closed_at && (session.taken_over_by ? (
            <button className="btn" onClick={() => void act(() => conversations.handBack(session.id))}>Hand back to the bot</button>
          ) : (
            <button className="btn btn-primary" onClick={() => void act(() => conversations.takeOver(session.id))}>Take over</button>
          ))}
          {!session.closed_at && <button className="btn" onClick={() => void act(() => conversations.close(session.id))}>Close</button>}
        </div>
      </header>
      <p className="muted">
        <Link to={`/bots/${session.bot_id}`}>Bot</Link> · {session.channel} · {session.user_name ?? "someone"} · {session.message_count} messages
        {session.tokens > 0 && ` · ${session.tokens} tokens`} · {state(session)} · started {timeAgo(session.created_at)}
      </p>
      {session.taken_over_by && <div className="alert alert-info">You answer by hand: the bot's dialog is paused for this conversation.</div>}
      <ErrorBox message={error} />
      <div className="card" style={{ padding: 16 }}>
        <Transcript messages={messages} details />
      </div>
      {!session.closed_at && (
        <Composer
          placeholder={session.taken_over_by ? "Answer as the bot…" : "Take over to answer by hand, or write as the bot anyway…"}
          onSend={(text) => conversations.say(session.id, text).then(load, (e) => setError(errorMessage(e)))}
        />
      )}
    </div>
  );
}
