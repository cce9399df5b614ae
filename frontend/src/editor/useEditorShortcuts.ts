// The editor's keyboard shortcuts (ignored while typing in a field); listed in EditorBar.
import { useEffect, useRef } from "react";

export interface ShortcutActions {
  readOnly: boolean;
  save: () => void;
  execute: () => void;
  fitView: () => void;
  undo: () => void;
  redo: () => void;
  copy: () => void;
  paste: () => void;
  selectAll: () => void;
  deleteSelected: () => void;
  duplicate?: () => void;
  toggleDisabled?: () => void;
  addSticky?: () => void;
}

export function useEditorShortcuts(actions: ShortcutActions): void {
  const current = useRef(actions);
  current.current = actions;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest("input, textarea, select, [contenteditable=true]")) return;
      const a = current.current;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      const run = (action: () => void) => {
        e.preventDefault();
        action();
      };
      if (mod && key === "s") return run(a.save);
      if (mod && key === "enter") return run(a.execute);
      if (!mod && key === "1") return run(a.fitView);
      if (a.readOnly) return;
      if (mod && key === "z" && !e.shiftKey) run(a.undo);
      else if (mod && ((key === "z" && e.shiftKey) || key === "y")) run(a.redo);
      else if (mod && key === "c") a.copy();
      else if (mod && key === "v") a.paste();
      else if (mod && key === "a") run(a.selectAll);
      else if (mod && key === "d" && a.duplicate) run(a.duplicate); // before the browser's bookmark
      else if (!mod && !e.altKey && key === "d" && !e.shiftKey && a.toggleDisabled) run(a.toggleDisabled);
      else if (!mod && !e.altKey && key === "s" && e.shiftKey && a.addSticky) run(a.addSticky);
      else if (key === "delete" || key === "backspace") run(a.deleteSelected);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
