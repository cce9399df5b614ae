// What every part of the editor reads: node types, the last run's node results, validation errors.
import { createContext, useContext } from "react";
import type { NodeRun, NodeType } from "../api/types";

export interface EditorInfo {
  types: Map<string, NodeType>;
  /** The newest (not superseded) run of each node in the execution shown, by node id. */
  runs: Map<string, NodeRun>;
  /** Validation errors from the last save, by node id. */
  errors: Record<string, string[]>;
  /** Node ids whose output is pinned. */
  pinned: Set<string>;
  readOnly: boolean;
}

export const EditorContext = createContext<EditorInfo>({
  types: new Map(),
  runs: new Map(),
  errors: {},
  pinned: new Set(),
  readOnly: false,
});

export const useEditorInfo = () => useContext(EditorContext);
