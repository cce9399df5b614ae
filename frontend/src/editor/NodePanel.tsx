// The side panel of the selected node: parameters, settings, credentials, its input and output
// items. Its width is the user's (drag its left edge), remembered in this browser.
import { useCallback, useState, type PointerEvent as ReactPointerEvent } from "react";
import type { Definition, NodeRun, NodeType } from "../api/types";
import type { PreviewContext } from "../lib/expressions";
import type { CanvasNode, NodeData } from "../lib/graph";
import { useCanvasActions } from "./canvasActions";
import { ChatPlayground } from "./ChatPlayground";
import { CredentialPicker } from "./CredentialPicker";
import { DataView } from "./DataView";
import { InputFields } from "./InputFields";
import { ParameterForm } from "./ParameterForm";
import { SchedulePanel, WebhookPanel } from "./TriggerPanels";
import type { WebhookTest } from "./useWebhookTest";

type Tab = "parameters" | "settings" | "input" | "output" | "chat";
/** Node types whose panel has a chat playground tab. */
const CHAT_TYPES = new Set(["ai.agent", "ai.chat"]);

interface Props {
  node: CanvasNode;
  type: NodeType | undefined;
  run: NodeRun | undefined;
  errors: string[];
  context: PreviewContext | null;
  readOnly: boolean;
  pinned: boolean;
  testInput: string;
  onTestInput: (text: string) => void;
  onChange: (patch: Partial<NodeData>, key: string) => void;
  onExecuteFrom: (() => void) | null;
  /** Run the draft's nodes before this one, to get its input. */
  onExecutePrevious?: (() => void) | null;
  onTogglePin: (() => void) | null;
  defaultTimezone: string;
  /** The workflow's id when it is active (its triggers are live). */
  activeWorkflowId: string | null;
  webhookTest: WebhookTest;
  /** What the chat playground of an AI node needs to run the draft (none: read-only). */
  playground?: { prepare: () => Promise<string | null>; definition: () => Definition; onRun: (executionId: string) => void } | null;
  onClose: () => void;
}

/** "parameters.url: Field required" → {url: "Field required"}; other messages stay general. */
function splitErrors(errors: string[]): { byField: Record<string, string>; general: string[] } {
  const byField: Record<string, string> = {};
  const general: string[] = [];
  for (const e of errors) {
    const m = /^parameters\.([^:]+): (.*)$/.exec(e);
    if (m) {
      const key = m[1].split(".")[0];
      byField[key] = m[2].startsWith(`${key}: `) ? m[2].slice(key.length + 2) : m[2];
    }
    else general.push(e);
  }
  return { byField, general };
}

const WIDTH_KEY = "wirework.nodePanelWidth";
const MIN_WIDTH = 300;
const maxWidth = () => Math.max(MIN_WIDTH, Math.min(900, Math.round(window.innerWidth * 0.45)));
const clampWidth = (w: number) => Math.min(maxWidth(), Math.max(MIN_WIDTH, Math.round(w)));

/** The panel's width, changed by dragging its left edge and kept in localStorage. */
function usePanelWidth(): [number, (e: ReactPointerEvent) => void] {
  const [width, setWidth] = useState(() => clampWidth(Number(localStorage.getItem(WIDTH_KEY)) || 380));
  const startResize = useCallback((e: ReactPointerEvent) => {
    e.preventDefault();
    const move = (ev: PointerEvent) => setWidth(clampWidth(window.innerWidth - ev.clientX));
    const up = (ev: PointerEvent) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      localStorage.setItem(WIDTH_KEY, String(clampWidth(window.innerWidth - ev.clientX)));
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }, []);
  return [width, startResize];
}

export function NodePanel(props: Props) {
  const { node, type, run, errors, context, readOnly } = props;
  const [tab, setTab] = useState<Tab>(readOnly ? "output" : "parameters");
  const [width, startResize] = usePanelWidth();
  const { nameProblem } = useCanvasActions();
  const data = node.data;
  const { byField, general } = splitErrors(errors);
  const parameters = data.parameters ?? {};
  const badName = readOnly ? null : nameProblem(node.id, data.name);
  // A node that did not run yet shows what its upstream nodes sent it (e.g. after "Execute previous nodes").
  const input = run?.input_data ?? (context?.items?.length ? { main: context.items } : undefined);
  return (
    <aside className="side-panel node-panel" aria-label="Node details" style={{ width }}>
      <div className="panel-resizer" role="separator" aria-orientation="vertical" aria-label="Resize the node panel" title="Drag to resize" onPointerDown={startResize} />
      <div className="side-panel-head">
        <input className="node-title" aria-label="Node name" value={data.name} readOnly={readOnly} aria-invalid={Boolean(badName)} onChange={(e) => props.onChange({ name: e.target.value }, "name")} />
        {!readOnly && (
          <button className={`btn btn-small${data.disabled ? " btn-on" : ""}`} aria-pressed={Boolean(data.disabled)} title="Disabled nodes pass their input through (D)"
            onClick={() => props.onChange({ disabled: !data.disabled }, "disabled")}>{data.disabled ? "Enable" : "Disable"}</button>
        )}
        <button className="btn-icon" aria-label="Close panel" onClick={props.onClose}>×</button>
      </div>
      {badName && <div className="field-error" role="alert">{badName}</div>}
      <div className="muted small node-panel-type">{type?.display_name ?? data.type} · <code>{data.type}</code></div>
      {type?.description && <p className="muted small">{type.description}</p>}
      {general.map((e) => <div className="alert alert-error" role="alert" key={e}>{e}</div>)}
      {Object.keys(byField).length > 0 && !general.length && tab !== "parameters" && <div className="alert alert-error">This node has invalid parameters.</div>}
      {run?.error && <div className="alert alert-error" data-testid="node-run-error"><strong>Error:</strong> {run.error}</div>}
      <div className="node-actions">
        {props.onExecutePrevious && <button className="btn btn-small" onClick={props.onExecutePrevious} title="Run the nodes before this one (the unsaved draft, nothing after it) to get its input">Execute previous nodes</button>}
        {props.onExecuteFrom && <button className="btn btn-small" onClick={props.onExecuteFrom}>Execute from this node</button>}
        {props.onTogglePin && <button className="btn btn-small" onClick={props.onTogglePin}>{props.pinned ? "Unpin output" : "Pin output"}</button>}
      </div>
      <div className="tabs" role="tablist">
        {(["parameters", "settings", "input", "output", ...(props.playground && !readOnly && CHAT_TYPES.has(data.type) ? ["chat"] : [])] as Tab[]).map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "on" : ""} onClick={() => setTab(t)}>
            {t[0].toUpperCase() + t.slice(1)}
            {t === "output" && run ? ` (${run.item_count})` : ""}
          </button>
        ))}
      </div>
      <div className="tab-body">
        {tab === "parameters" && (
          <>
            {data.type === "core.manual_trigger" && (
              <div className="field">
                <span className="field-label">Test input items (JSON list)</span>
                <textarea className="code" aria-label="Test input" rows={4} value={props.testInput} readOnly={readOnly} onChange={(e) => props.onTestInput(e.target.value)} />
                <span className="field-hint">What the trigger emits when you click Execute workflow.</span>
              </div>
            )}
            {!readOnly && <InputFields context={context} />}
            {type ? (
              <ParameterForm schema={type.parameters_schema} values={parameters} context={context} errors={byField} readOnly={readOnly}
                onChange={(values, key) => props.onChange({ parameters: values }, `parameters.${key}`)} />
            ) : (
              <p className="field-error">Unknown node type {data.type}: this server has no such node.</p>
            )}
            {type && type.credential_slots.length > 0 && (
              <CredentialPicker slots={type.credential_slots} value={data.credentials ?? {}} readOnly={readOnly} onChange={(credentials) => props.onChange({ credentials }, "credentials")} />
            )}
            {data.type === "core.webhook" && !readOnly && <WebhookPanel parameters={parameters} test={props.webhookTest} />}
            {data.type === "core.schedule" && (
              <SchedulePanel parameters={parameters} defaultTimezone={props.defaultTimezone}
                active={props.activeWorkflowId ? { workflowId: props.activeWorkflowId, nodeId: node.id } : null} />
            )}
          </>
        )}
        {tab === "settings" && <NodeSettings data={data} readOnly={readOnly} onChange={props.onChange} />}
        {tab === "input" && <DataView key={`in-${node.id}`} label="Input" data={input} executionId={run?.execution_id} />}
        {tab === "output" && <DataView key={`out-${node.id}`} label="Output" data={run?.output_data} executionId={run?.execution_id} />}
        {tab === "chat" && props.playground && <ChatPlayground nodeId={node.id} {...props.playground} />}
      </div>
    </aside>
  );
}

function NodeSettings({ data, readOnly, onChange }: { data: NodeData; readOnly: boolean; onChange: Props["onChange"] }) {
  const retry = data.retry ?? { max_attempts: 1, backoff_s: 1 };
  return (
    <div className="param-form">
      <label className="field">
        <span className="field-label">On error</span>
        <select aria-label="On error" value={data.on_error ?? "stop"} disabled={readOnly} onChange={(e) => onChange({ on_error: e.target.value as NodeData["on_error"] }, "on_error")}>
          <option value="stop">Stop the workflow</option>
          <option value="continue">Continue (error on the item)</option>
          <option value="error_output">Send failed items to an "error" output</option>
        </select>
      </label>
      <div className="row">
        <label className="field">
          <span className="field-label">Attempts</span>
          <input type="number" min={1} max={10} aria-label="Attempts" value={retry.max_attempts} readOnly={readOnly}
            onChange={(e) => onChange({ retry: { ...retry, max_attempts: Math.max(1, Number(e.target.value) || 1) } }, "retry")} />
        </label>
        <label className="field">
          <span className="field-label">Backoff (s)</span>
          <input type="number" min={0} step="any" aria-label="Backoff" value={retry.backoff_s} readOnly={readOnly}
            onChange={(e) => onChange({ retry: { ...retry, backoff_s: Math.max(0, Number(e.target.value) || 0) } }, "retry")} />
        </label>
      </div>
      <label className="field">
        <span className="field-label">Timeout (s)</span>
        <input type="number" min={0} step="any" aria-label="Timeout" value={data.timeout_s ?? ""} placeholder="workflow limit" readOnly={readOnly}
          onChange={(e) => onChange({ timeout_s: e.target.value ? Number(e.target.value) : null }, "timeout_s")} />
      </label>
      <label className="field checkbox" title="Record the start first; after a crash mid-node, fail the node instead of running it again (no retries)">
        <input type="checkbox" aria-label="At most once" checked={Boolean(data.at_most_once)} disabled={readOnly}
          onChange={(e) => onChange(e.target.checked ? { at_most_once: true, retry: { ...retry, max_attempts: 1 } } : { at_most_once: false }, "at_most_once")} />
        <span>At most once (never repeated after a crash)</span>
      </label>
      <label className="field checkbox">
        <input type="checkbox" checked={Boolean(data.disabled)} disabled={readOnly} onChange={(e) => onChange({ disabled: e.target.checked }, "disabled")} />
        <span>Disabled (items pass through)</span>
      </label>
      <label className="field">
        <span className="field-label">Notes</span>
        <textarea aria-label="Notes" rows={3} value={data.notes ?? ""} readOnly={readOnly} onChange={(e) => onChange({ notes: e.target.value }, "notes")} />
      </label>
    </div>
  );
}
