// Per-workflow editor state kept in this browser: the manual trigger's test input.
// (Pinned outputs are saved in the workflow's definition.)

const inputKey = (workflowId: string) => `wirework:test-input:${workflowId}`;

export function loadTestInput(workflowId: string): string {
  return localStorage.getItem(inputKey(workflowId)) ?? "[{}]";
}

export function saveTestInput(workflowId: string, text: string): void {
  localStorage.setItem(inputKey(workflowId), text);
}
