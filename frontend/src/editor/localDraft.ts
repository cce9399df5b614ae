// Per-workflow editor state kept in this browser: pinned node outputs and the trigger's test input.
// (The definition format has no place for pinned data; it is sent with each run request.)
import type { NodeOutputs } from "../api/types";

const pinsKey = (workflowId: string) => `wirework:pins:${workflowId}`;
const inputKey = (workflowId: string) => `wirework:test-input:${workflowId}`;

export function loadPins(workflowId: string): Record<string, NodeOutputs> {
  try {
    return JSON.parse(localStorage.getItem(pinsKey(workflowId)) ?? "{}") as Record<string, NodeOutputs>;
  } catch {
    return {};
  }
}

export function savePins(workflowId: string, pins: Record<string, NodeOutputs>): void {
  if (Object.keys(pins).length) localStorage.setItem(pinsKey(workflowId), JSON.stringify(pins));
  else localStorage.removeItem(pinsKey(workflowId));
}

export function loadTestInput(workflowId: string): string {
  return localStorage.getItem(inputKey(workflowId)) ?? "[{}]";
}

export function saveTestInput(workflowId: string, text: string): void {
  localStorage.setItem(inputKey(workflowId), text);
}
