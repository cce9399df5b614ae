// A chat transcript and a box to write in: the bot page's test chat and the conversation view.
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { ChatMessage } from "../api/bots";

const bubble = (mine: boolean): React.CSSProperties => ({
  maxWidth: "80%",
  padding: "8px 12px",
  borderRadius: 14,
  whiteSpace: "pre-wrap",
  overflowWrap: "anywhere",
  background: mine ? "var(--accent, #4f46e5)" : "var(--surface-2, rgba(127,127,127,.14))",
  color: mine ? "#fff" : "inherit",
});

export function Transcript({ messages, details = false, empty }: { messages: ChatMessage[]; details?: boolean; empty?: string }) {
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "end" }); // it may return a promise: not a cleanup
  }, [messages.length]);
  if (messages.length === 0) return <p className="muted">{empty ?? "No messages yet."}</p>;
  return (
    <div className="transcript" style={{ display: "flex", flexDirection: "column", gap: 8 }} aria-label="Transcript">
      {messages.map((m) => {
        const mine = m.role === "user";
        return (
          <div key={m.id} className={`chat-message chat-${m.role}`} style={{ display: "flex", flexDirection: "column", alignItems: mine ? "flex-end" : "flex-start" }}>
            <div style={bubble(mine)}>{m.content}</div>
            {details && (
              <div className="muted small" style={{ fontSize: 12, marginTop: 2 }}>
                {m.sender ?? m.role} · {m.channel} · {new Date(m.created_at).toLocaleTimeString()}
                {m.latency_ms != null && ` · ${m.latency_ms} ms`}
                {m.tokens > 0 && ` · ${m.tokens} tokens`}
                {m.model && ` · ${m.model}`}
                {m.role !== "user" && m.delivery !== "sent" && ` · ${m.delivery}${m.error ? `: ${m.error}` : ""}`}
              </div>
            )}
          </div>
        );
      })}
      <div ref={end} />
    </div>
  );
}

export function Composer({ onSend, placeholder, disabled }: { onSend: (text: string) => Promise<void>; placeholder?: string; disabled?: boolean }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    const value = text.trim();
    if (!value || busy) return;
    setBusy(true);
    try {
      await onSend(value);
      setText("");
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="row" onSubmit={submit} style={{ display: "flex", gap: 8, marginTop: 12 }}>
      <input
        className="search"
        style={{ flex: 1 }}
        aria-label="Message"
        placeholder={placeholder ?? "Write a message…"}
        value={text}
        disabled={disabled}
        onChange={(e) => setText(e.target.value)}
      />
      <button className="btn btn-primary" type="submit" disabled={busy || disabled || !text.trim()}>{busy ? "Sending…" : "Send"}</button>
    </form>
  );
}
