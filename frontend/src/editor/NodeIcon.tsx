// Node icons: a coloured tile per category with a short mark (no icon font to download).
import type { NodeType } from "../api/types";

const MARKS: Record<string, string> = {
  play: "▶", code: "{ }", globe: "HTTP", "arrow-right": "→", split: "IF", merge: "⋈", repeat: "↻",
  filter: "▽", pencil: "✎", "octagon-x": "✕", webhook: "⚡",
  "arrow-down-up": "⇅",
};

const COLORS: Record<string, string> = {
  Triggers: "#ff6d5a", Flow: "#3b6fe0", Transform: "#1f9d55", Data: "#8b5cf6", Core: "#475569", Integrations: "#0e9aa7",
};

function initials(name: string): string {
  const words = name.split(/\s+/).filter((w) => /\w/.test(w));
  return (words.length > 1 ? words[0][0] + words[1][0] : name.slice(0, 2)).toUpperCase();
}

export function NodeIcon({ type, size = 26 }: { type: NodeType | undefined; size?: number }) {
  const mark = (type && MARKS[type.icon]) ?? initials(type?.display_name ?? "?");
  const color = COLORS[type?.category ?? ""] ?? "#64748b";
  return (
    <span className="node-glyph" aria-hidden="true"
      style={{ width: size, height: size, color, background: `${color}1a`, fontSize: mark.length > 2 ? size * 0.32 : size * 0.45 }}>
      {mark}
    </span>
  );
}
