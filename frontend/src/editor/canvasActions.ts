// What a node or note on the canvas may ask of the editor (rename inline, edit a note), without
// going through React Flow's own state, so each change takes an undo step and marks the draft unsaved.
import { createContext, useContext } from "react";
import type { StickyData } from "../lib/graph";

export interface CanvasActions {
  /** Rename a node; returns why not, or null when done. */
  renameNode: (id: string, name: string) => string | null;
  /** Why `name` cannot be node `id`'s, or null. */
  nameProblem: (id: string, name: string) => string | null;
  updateSticky: (id: string, patch: Partial<StickyData>) => void;
}

export const CanvasActionsContext = createContext<CanvasActions>({
  renameNode: () => "This canvas is read-only.",
  nameProblem: () => null,
  updateSticky: () => undefined,
});

export const useCanvasActions = () => useContext(CanvasActionsContext);
