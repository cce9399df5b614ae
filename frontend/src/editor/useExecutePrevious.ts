// "Execute previous nodes": run the draft's nodes that lead to the open node (its ancestors,
// nothing after), without saving, so the node's input is there to build its expressions on.
// The engine has no "stop at this node": the run gets only that part of the definition.
import { useCallback } from "react";
import { api, errorMessage } from "../api/client";
import type { Definition, Execution } from "../api/types";
import { definitionBefore } from "../lib/graph";

interface Options {
  /** The workflow's id, saving it first if it was never saved (a run points at a version). */
  prepare: () => Promise<string | null>;
  definition: () => Definition;
  /** The trigger's test input items (JSON text), as Execute workflow sends them. */
  testInput: string;
  follow: (executionId: string) => Promise<void>;
  setBusy: (busy: "run" | null) => void;
  onError: (text: string) => void;
}

export function useExecutePrevious({ prepare, definition, testInput, follow, setBusy, onError }: Options) {
  return useCallback(async (nodeId: string) => {
    const part = definitionBefore(definition(), nodeId);
    if (!part.nodes.length) return;
    let input: unknown;
    try {
      input = JSON.parse(testInput || "[]");
      if (!Array.isArray(input)) input = [input];
    } catch {
      onError("The trigger's test input is not valid JSON.");
      return;
    }
    const workflowId = await prepare();
    if (!workflowId) return;
    setBusy("run");
    try {
      const started = await api.post<Execution>(`workflows/${workflowId}/run`, { input, definition: part, wait_s: 10 });
      await follow(started.id);
    } catch (e) {
      onError(`Could not run the previous nodes: ${errorMessage(e)}`);
    } finally {
      setBusy(null);
    }
  }, [prepare, definition, testInput, follow, setBusy, onError]);
}
