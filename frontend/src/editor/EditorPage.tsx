// The workflow editor: canvas, palette, node panel, save (a new version each time), run, versions,
// and the read-only view of one execution (`executionId`).
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
} from "@xyflow/react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Definition, Execution, ExecutionDetail, NodeOutputs, NodeType, Version, VersionDetail, WorkflowDetail } from "../api/types";
import { edgeItemCount, latestRuns, previewContextFor } from "../lib/runData";
import type { ExpressionReference, PreviewContext } from "../lib/expressions";
import { nameProblem, toCanvas, toDefinition, toStickies, type CanvasEdge, type CanvasNode } from "../lib/graph";
import { Link, navigate } from "../lib/router";
import { EditorContext, type EditorInfo } from "./context";
import { AIPromptBox } from "./AIPromptBox";
import { EditorBar } from "./EditorBar";
import { NodePanel } from "./NodePanel";
import { Palette } from "./Palette";
import { VersionsPanel } from "./VersionsPanel";
import { WorkflowNode } from "./WorkflowNode";
import { CanvasActionsContext, type CanvasActions } from "./canvasActions";
import { StickyNoteNode } from "./StickyNote";
import { useExecutePrevious } from "./useExecutePrevious";
import { useStickyNotes } from "./useStickyNotes";
import { useKeepInView, useReadableFit } from "./useViewport";
import { WorkflowSettings } from "./WorkflowSettings";
import { useCanvasEditing } from "./useCanvasEditing";
import { useEditorShortcuts } from "./useEditorShortcuts";
import { useUndoHistory } from "./useUndoHistory";
import { useWebhookTest } from "./useWebhookTest";
import { loadTestInput, saveTestInput } from "./localDraft";

const NODE_TYPES = { wirework: WorkflowNode, sticky: StickyNoteNode };
/** How long a success banner stays; an error stays until the next edit or run. */
const INFO_BANNER_MS = 5000;
const EDGE_LABEL = { fill: "#1f9d55", fontWeight: 600, fontSize: 11 };
const EDGE_LABEL_BG = { fill: "#f5f6f8" };
const FIT_OPTIONS = { maxZoom: 1.2, padding: 0.2 };
const FINISHED = new Set(["completed", "failed", "cancelled", "waiting"]);

interface Props {
  workflowId?: string;
  executionId?: string;
}

export default function EditorPage(props: Props) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

function Editor({ workflowId: routeWorkflowId, executionId }: Props) {
  const [types, setTypes] = useState<NodeType[]>([]);
  const [workflow, setWorkflow] = useState<WorkflowDetail | null>(null);
  const [nodes, setNodes, onNodesChange] = useNodesState<CanvasNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<CanvasEdge>([]);
  const [settings, setSettings] = useState<Definition["settings"]>(undefined);
  const [loaded, setLoaded] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [execution, setExecution] = useState<ExecutionDetail | null>(null);
  const [nodeErrors, setNodeErrors] = useState<Record<string, string[]>>({});
  const [banner, setBanner] = useState<{ kind: "error" | "info"; text: string; list?: string[] } | null>(null);
  const [busy, setBusy] = useState<"save" | "run" | null>(null);
  const [showVersions, setShowVersions] = useState(false);
  /** null: the node list opens by itself only on an empty canvas (it lies over the canvas). */
  const [showPalette, setShowPalette] = useState<boolean | null>(null);
  const [showSettings, setShowSettings] = useState(false);
  const [showAI, setShowAI] = useState(false);
  const [versionsKey, setVersionsKey] = useState(0);
  const [viewing, setViewing] = useState<{ version: VersionDetail; draft: { nodes: CanvasNode[]; edges: CanvasEdge[] } } | null>(null);
  const [pins, setPins] = useState<Record<string, NodeOutputs>>({});
  const [testInput, setTestInput] = useState("[{}]");
  const [reference, setReference] = useState<ExpressionReference | null>(null);
  const [variables, setVariables] = useState<Record<string, unknown>>({});
  /** `/workflows/new`: nothing exists on the server until the first save (or run) creates it. */
  const isNew = routeWorkflowId === "new";
  const [newName, setNewName] = useState("My workflow");
  const followRef = useRef<(id: string) => Promise<void>>(async () => undefined);
  /** Fit the view on opening only when there is something to fit (an empty canvas stays at 100%). */
  const fitOnOpen = useRef<boolean | null>(null);

  const workflowId = isNew ? (workflow?.id ?? null) : (routeWorkflowId ?? workflow?.id ?? null);
  const readOnly = Boolean(executionId) || Boolean(viewing);
  const nodesRef = useRef(nodes);
  const edgesRef = useRef(edges);
  nodesRef.current = nodes;
  edgesRef.current = edges;

  const notes = useStickyNotes((key) => checkpoint(key));
  const history = useUndoHistory(
    () => ({ nodes: nodesRef.current, edges: edgesRef.current, stickies: notes.stickiesRef.current }),
    (snap) => {
      setNodes(snap.nodes);
      setEdges(snap.edges);
      if (snap.stickies) notes.setStickies(snap.stickies);
      setDirty(true);
    },
  );
  const checkpoint = useCallback(
    (key?: string) => {
      history.checkpoint(key);
      setDirty(true);
      setBanner((b) => (b?.kind === "error" ? null : b)); // an edit is the next action: the error was seen
    },
    [history],
  );

  // ------------------------------------------------------------ loading

  const showDefinition = useCallback((definition: Definition | null) => {
    const canvas = toCanvas(definition);
    setNodes(canvas.nodes);
    setEdges(canvas.edges);
    notes.setStickies(toStickies(definition));
    setSettings(definition?.settings);
  }, [setNodes, setEdges, notes.setStickies]);

  const loadExecution = useCallback(async (id: string) => {
    const detail = await api.get<ExecutionDetail>(`executions/${id}`);
    setExecution(detail);
    return detail;
  }, []);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      try {
        const nodeTypes = await api.get<NodeType[]>("node-types");
        // What expressions offer (the server's list) and `vars` as this workflow's runs see them.
        void api.get<ExpressionReference>("expressions").then(setReference, () => undefined);
        const varsFor = routeWorkflowId && routeWorkflowId !== "new" ? { workflow_id: routeWorkflowId } : {};
        void api.get<Record<string, unknown>>("variables/values", varsFor).then(setVariables, () => undefined);
        if (cancelled) return;
        setTypes(nodeTypes);
        if (executionId) {
          const detail = await loadExecution(executionId);
          const wf = await api.get<WorkflowDetail>(`workflows/${detail.workflow_id}`);
          const versions = await api.get<Version[]>(`workflows/${wf.id}/versions`);
          const version = versions.find((v) => v.id === detail.version_id);
          const definition = version ? (await api.get<VersionDetail>(`workflows/${wf.id}/versions/${version.version}`)).definition : wf.definition;
          if (cancelled) return;
          setWorkflow(wf);
          showDefinition(definition);
          if (!FINISHED.has(detail.status)) void followRef.current(detail.id);
        } else if (routeWorkflowId && routeWorkflowId !== "new") {
          const wf = await api.get<WorkflowDetail>(`workflows/${routeWorkflowId}`);
          if (cancelled) return;
          setWorkflow(wf);
          showDefinition(wf.definition);
          setPins(wf.definition?.pinned ?? {});
          setTestInput(loadTestInput(wf.id));
          if (wf.last_run) await loadExecution(wf.last_run.id).catch(() => undefined);
        }
        if (!cancelled) setLoaded(true);
      } catch (e) {
        if (!cancelled) setLoadError(errorMessage(e));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [routeWorkflowId, executionId, loadExecution, showDefinition]);

  // Warn before leaving with unsaved changes.
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  // ------------------------------------------------------------ editing

  const typeMap = useMemo(() => new Map(types.map((t) => [t.type, t])), [types]);

  const clearNodeErrors = useCallback((id: string) => {
    setNodeErrors((errs) => {
      if (!errs[id]) return errs;
      const rest = { ...errs };
      delete rest[id];
      return rest;
    });
  }, []);
  const showMessage = useCallback((kind: "error" | "info", text: string) => setBanner({ kind, text }), []);
  const editing = useCanvasEditing({
    typeMap, nodesRef, edgesRef, setNodes, setEdges, checkpoint, onNodeEdited: clearNodeErrors,
    stickiesRef: notes.stickiesRef, setStickies: notes.setStickies, onMessage: showMessage, readOnly,
  });
  const { addNode, onDrop, onConnect, isValidConnection, updateNode } = editing;

  // ------------------------------------------------------------ saving and running

  const currentDefinition = useCallback(() => withPins(toDefinition(nodesRef.current, edgesRef.current, settings, notes.stickiesRef.current), pins), [settings, pins]);

  /** A 422 on the definition: errors go on their nodes, the rest in the banner. */
  const showInvalid = useCallback((e: ApiError, prefix = "Invalid workflow") => {
    setNodeErrors(e.nodeErrors());
    const general = e.errors.filter((x) => !x.node_id).map((x) => `${x.field ?? x.loc.join(".")}: ${x.msg}`);
    setBanner({ kind: "error", text: `${prefix}: ${e.detail}`, list: general });
  }, []);

  /** Save a new version (the first save of a new workflow creates it); the workflow's id, or null. */
  const save = useCallback(async (): Promise<string | null> => {
    if (readOnly) return null;
    setBusy("save");
    try {
      if (!workflowId) {
        const created = await api.post<WorkflowDetail>("workflows", { name: newName.trim() || "My workflow", definition: currentDefinition() });
        setWorkflow(created);
        // The address becomes the workflow's own without remounting the editor (undo, run data stay).
        window.history.replaceState(null, "", `/workflows/${created.id}`);
        setDirty(false);
        setNodeErrors({});
        setBanner({ kind: "info", text: `Saved as version ${created.version}.` });
        return created.id;
      }
      const version = await api.post<VersionDetail>(`workflows/${workflowId}/versions`, { definition: currentDefinition() });
      setWorkflow((w) => (w ? { ...w, version: version.version } : w));
      setDirty(false);
      setNodeErrors({});
      setBanner({ kind: "info", text: `Saved as version ${version.version}.` });
      setVersionsKey((k) => k + 1);
      return workflowId;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) showInvalid(e, "Not saved");
      else setBanner({ kind: "error", text: `Not saved: ${errorMessage(e)}` });
      return null;
    } finally {
      setBusy(null);
    }
  }, [workflowId, readOnly, newName, currentDefinition, showInvalid]);

  const follow = useCallback(async (id: string) => {
    for (let i = 0; i < 600; i++) {
      const detail = await loadExecution(id);
      if (FINISHED.has(detail.status)) {
        setBanner(detail.status === "failed"
          ? { kind: "error", text: `The run failed${detail.error_node ? ` at ${nodeName(detail.error_node)}` : ""}: ${detail.error ?? ""}` }
          : { kind: "info", text: `Run ${detail.status}.` });
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }, [loadExecution]);

  const listenRef = useRef<() => Promise<{ url: string; method: string } | null>>(async () => null);

  /** Execute: runs what is on the canvas without saving it (an active workflow keeps answering with
   * its saved version). Only a workflow never saved is saved first: a run points at a version. A
   * workflow started by a webhook waits for a test call instead (unless the webhook's output is pinned). */
  const execute = useCallback(async () => {
    if (readOnly) return;
    const definition = currentDefinition();
    if (waitsForTestCall(definition, typeMap)) {
      const session = await listenRef.current();
      if (session) setBanner({ kind: "info", text: `Waiting for a test call: send a ${session.method} to ${window.location.origin}${session.url} (or pin the webhook's output to run without one).` });
      return;
    }
    let input: unknown;
    try {
      input = JSON.parse(testInput || "[]");
      if (!Array.isArray(input)) input = [input];
    } catch {
      setBanner({ kind: "error", text: "The trigger's test input is not valid JSON." });
      return;
    }
    const id = workflow?.version && workflowId ? workflowId : await save();
    if (!id) return;
    setBusy("run");
    setBanner({ kind: "info", text: "Running…" });
    try {
      const started = await api.post<Execution>(`workflows/${id}/run`, { input, definition, wait_s: 10 });
      await follow(started.id);
      setWorkflow((w) => (w ? { ...w, last_run: { id: started.id, status: started.status, created_at: started.created_at } } : w));
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) showInvalid(e, "Not run");
      else setBanner({ kind: "error", text: `Could not run: ${errorMessage(e)}` });
    } finally {
      setBusy(null);
    }
  }, [workflowId, readOnly, testInput, workflow, typeMap, save, currentDefinition, showInvalid, follow]);

  /** Run the canvas's draft from one node, reusing what the nodes before it gave in the run shown. */
  const executeFrom = useCallback(async (nodeId: string) => {
    if (!execution || !workflowId) return;
    setBusy("run");
    try {
      const started = await api.post<Execution>(`workflows/${workflowId}/run`, {
        definition: currentDefinition(), start_node: nodeId, reuse_execution: execution.id, input: execution.input_items, wait_s: 10,
      });
      await follow(started.id);
    } catch (e) {
      setBanner({ kind: "error", text: `Could not run from this node: ${errorMessage(e)}` });
    } finally {
      setBusy(null);
    }
  }, [execution, workflowId, currentDefinition, follow]);

  const runs = useMemo(() => latestRuns(execution), [execution]);
  /** A node's name from its id (errors name nodes as the user does). */
  const nodeName = (id: string) => nodesRef.current.find((n) => n.id === id)?.data.name ?? id;
  followRef.current = follow;

  // Edges that carried items in the run shown say how many, like n8n.
  const shownEdges = useMemo(() => {
    if (!runs.size) return edges;
    return edges.map((e) => {
      const count = edgeItemCount(runs, e);
      return count ? { ...e, label: `${count} item${count === 1 ? "" : "s"}`, className: "edge-ran", labelStyle: EDGE_LABEL, labelBgStyle: EDGE_LABEL_BG } : e;
    });
  }, [edges, runs]);

  const prepareTestCall = useCallback(async () => (workflow?.version && workflowId ? workflowId : save()), [workflow, workflowId, save]);
  const showReceived = useCallback((id: string) => void follow(id), [follow]);
  const webhookTest = useWebhookTest({ definition: currentDefinition, prepare: prepareTestCall, onReceived: showReceived, onInvalid: showInvalid });
  listenRef.current = webhookTest.listen;

  /** Pinned outputs are part of the workflow (saved with it; used by the editor's runs only). */
  const togglePin = useCallback((nodeId: string) => {
    setPins((old) => {
      const next = { ...old };
      if (next[nodeId]) delete next[nodeId];
      else {
        const outputs = runs.get(nodeId)?.output_data ?? {};
        next[nodeId] = Object.fromEntries(Object.entries(outputs).filter(([k]) => !k.startsWith("$")));
      }
      return next;
    });
    setDirty(true);
  }, [runs]);

  const renameWorkflow = useCallback(async (name: string) => {
    if (!workflow) return setNewName(name);
    if (!name.trim() || name === workflow.name) return;
    try {
      setWorkflow(await api.patch<WorkflowDetail>(`workflows/${workflow.id}`, { name: name.trim() }));
    } catch (e) {
      setBanner({ kind: "error", text: errorMessage(e) });
    }
  }, [workflow]);

  const toggleActive = useCallback(async () => {
    if (!workflow) return setBanner({ kind: "info", text: "Save the workflow first: it is created on its first save." });
    try {
      const updated = await api.post<WorkflowDetail>(`workflows/${workflow.id}/${workflow.is_active ? "deactivate" : "activate"}`);
      setWorkflow((w) => (w ? { ...w, is_active: updated.is_active } : w));
    } catch (e) {
      setBanner({ kind: "error", text: errorMessage(e) });
    }
  }, [workflow]);

  const fit = useReadableFit(typeMap, fitOnOpen);
  useEditorShortcuts({
    readOnly,
    save: () => void save(),
    execute: () => void execute(),
    fitView: () => fit(200),
    addSticky: notes.addSticky,
    undo: history.undo,
    redo: history.redo,
    ...editing,
  });

  // ------------------------------------------------------------ view

  const info: EditorInfo = useMemo(
    () => ({ types: typeMap, runs, errors: nodeErrors, pinned: new Set(Object.keys(pins)), readOnly }),
    [typeMap, runs, nodeErrors, pins, readOnly],
  );

  const selected = nodes.filter((n) => n.selected);
  const panelNode = selected.length === 1 ? selected[0] : null;

  useKeepInView(panelNode?.id ?? null);
  const executePrevious = useExecutePrevious({
    prepare: prepareTestCall, definition: currentDefinition, testInput, follow, setBusy,
    onError: (text) => setBanner({ kind: "error", text }),
  });
  const canvasActions: CanvasActions = useMemo(() => ({
    renameNode: editing.renameNode,
    nameProblem: (id, name) => nameProblem(name, id, nodesRef.current),
    updateSticky: notes.updateSticky,
  }), [editing.renameNode, notes.updateSticky]);
  const flowNodes = useMemo(() => [...notes.stickies, ...nodes] as CanvasNode[], [notes.stickies, nodes]);
  const onFlowNodesChange: typeof onNodesChange = useCallback((changes) => {
    const rest = notes.takeChanges(changes);
    if (rest.length) onNodesChange(rest);
  }, [notes, onNodesChange]);
  // Success banners go after a while; "Running…" stays until the run ends.
  useEffect(() => {
    if (banner?.kind !== "info" || banner.text.endsWith("…")) return;
    const timer = window.setTimeout(() => setBanner((b) => (b === banner ? null : b)), INFO_BANNER_MS);
    return () => window.clearTimeout(timer);
  }, [banner]);

  // The preview sees what a run would: the server's names, vars, and the run's data when there is one.
  const previewContext = useMemo((): PreviewContext | null => {
    if (!panelNode) return null;
    const meta = { id: workflow?.id, name: workflow?.name, version: workflow?.version, timezone: settings?.timezone ?? "UTC" };
    const fromRun = previewContextFor(panelNode.id, execution, runs, edges, Boolean(typeMap.get(panelNode.data.type)?.is_trigger), meta);
    const base: PreviewContext = fromRun ?? { items: [], json: {}, index: 0, nodes: {}, noRunData: true, workflow: meta };
    return { ...base, vars: variables, reference: reference ?? undefined, execution: { ...base.execution, mode: execution?.trigger_type ?? "manual" } };
  }, [panelNode, execution, runs, edges, typeMap, workflow, settings, variables, reference]);

  if (loadError) return <div className="page"><div className="alert alert-error">{loadError}</div><Link to="/workflows">Back to workflows</Link></div>;
  if (!loaded) return <div className="loading">Loading editor…</div>;
  fitOnOpen.current ??= nodes.length > 0;
  const paletteOpen = showPalette ?? !fitOnOpen.current;

  return (
    <EditorContext.Provider value={info}>
      <CanvasActionsContext.Provider value={canvasActions}>
      <div className="editor">
        <EditorBar
          workflow={workflow ?? (isNew ? unsavedWorkflow(newName) : null)}
          execution={execution?.error_node ? { ...execution, error_node: nodeName(execution.error_node) } : execution}
          executionId={executionId}
          dirty={dirty}
          readOnly={readOnly}
          busy={busy}
          canUndo={history.canUndo}
          canRedo={history.canRedo}
          onUndo={history.undo}
          onRedo={history.redo}
          onRename={(name) => void renameWorkflow(name)}
          onToggleActive={() => void toggleActive()}
          onSettings={() => setShowSettings(true)}
          onBuildWithAI={() => setShowAI(true)}
          onVersions={() => setShowVersions((v) => !v)}
          onSave={() => void save()}
          onExecute={() => void execute()}
          onRetry={() => void api.post<Execution>(`executions/${executionId}/retry`).then((x) => navigate(`/executions/${x.id}`), (e) => setBanner({ kind: "error", text: errorMessage(e) }))}
          onCancel={() => void api.post(`executions/${executionId}/cancel`).then(() => loadExecution(executionId!), (e) => setBanner({ kind: "error", text: errorMessage(e) }))}
        />
        {viewing && (
          <div className="alert alert-info banner">
            Viewing version {viewing.version.version} (read-only).
            <button className="btn btn-small" onClick={() => { setNodes(viewing.draft.nodes); setEdges(viewing.draft.edges); setViewing(null); }}>Back to editing</button>
          </div>
        )}
        {banner && (
          <div className={`alert ${banner.kind === "error" ? "alert-error" : "alert-info"} banner`} role={banner.kind === "error" ? "alert" : "status"} data-testid="editor-banner">
            <span>{banner.text}</span>
            {banner.list?.map((t) => <div key={t}>{t}</div>)}
            <button className="btn-icon" aria-label="Dismiss" onClick={() => setBanner(null)}>×</button>
          </div>
        )}
        <div className="editor-body">
          {!readOnly && paletteOpen && <Palette types={types} onAdd={(t) => addNode(t)} onHide={() => setShowPalette(false)} />}
          <div className="canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop} data-testid="canvas">
            <ReactFlow<CanvasNode, CanvasEdge>
              nodes={flowNodes}
              edges={shownEdges}
              nodeTypes={NODE_TYPES}
              onNodesChange={onFlowNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              isValidConnection={isValidConnection}
              onNodeDragStart={() => checkpoint()}
              onSelectionDragStart={() => checkpoint()}
              nodesDraggable={!readOnly}
              nodesConnectable={!readOnly}
              edgesReconnectable={false}
              deleteKeyCode={null}
              multiSelectionKeyCode={["Shift", "Meta", "Control"]}
              selectionKeyCode="Shift"
              fitViewOptions={FIT_OPTIONS}
              minZoom={0.05}
              defaultEdgeOptions={{ type: "smoothstep" }}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={20} />
              <Controls showInteractive={false} onFitView={() => fit(200)} />
              {nodes.length <= 400 && <MiniMap pannable zoomable nodeColor="#cbd5e1" nodeStrokeWidth={0} className="minimap" />}
            </ReactFlow>
            {!readOnly && (
              <div className="canvas-tools">
                {!paletteOpen && <button className="btn" onClick={() => setShowPalette(true)} aria-label="Show nodes">+ Nodes</button>}
                <button className="btn" onClick={notes.addSticky} title="Add a sticky note (Shift+S)">+ Note</button>
              </div>
            )}
            {nodes.length === 0 && !readOnly && (
              <div className="canvas-hint">Drag a trigger from the list on the left to start, then add nodes and connect them. Press ? in the top bar for keyboard shortcuts.</div>
            )}
          </div>
          {panelNode && (
            <NodePanel
              key={panelNode.id}
              node={panelNode}
              type={typeMap.get(panelNode.data.type)}
              run={runs.get(panelNode.id)}
              errors={nodeErrors[panelNode.id] ?? []}
              context={previewContext}
              readOnly={readOnly}
              pinned={Boolean(pins[panelNode.id])}
              testInput={testInput}
              onTestInput={(text) => { setTestInput(text); if (workflowId) saveTestInput(workflowId, text); }}
              onChange={(patch, key) => updateNode(panelNode.id, patch, key)}
              onExecuteFrom={!readOnly && execution ? () => void executeFrom(panelNode.id) : null}
              onExecutePrevious={!readOnly && edges.some((e) => e.target === panelNode.id) ? () => void executePrevious(panelNode.id) : null}
              onTogglePin={!readOnly && (runs.get(panelNode.id)?.output_data || pins[panelNode.id]) ? () => togglePin(panelNode.id) : null}
              defaultTimezone={settings?.timezone ?? "UTC"}
              activeWorkflowId={workflow?.is_active ? workflow.id : null}
              webhookTest={webhookTest}
              playground={readOnly ? null : { prepare: prepareTestCall, definition: currentDefinition, onRun: showReceived }}
              onClose={() => setNodes((ns) => ns.map((n) => ({ ...n, selected: false })))}
            />
          )}
          {showVersions && workflowId && !executionId && (
            <VersionsPanel
              workflowId={workflowId}
              current={workflow?.version ?? 0}
              refreshKey={versionsKey}
              onClose={() => setShowVersions(false)}
              onView={(version) => {
                setViewing((v) => ({ version, draft: v?.draft ?? { nodes: nodesRef.current, edges: edgesRef.current } }));
                showDefinition(version.definition);
                window.setTimeout(() => fit(), 50);
              }}
              onRestored={(version) => {
                setViewing(null);
                showDefinition(version.definition);
                setPins(version.definition.pinned ?? {});
                setWorkflow((w) => (w ? { ...w, version: version.version } : w));
                setDirty(false);
                setVersionsKey((k) => k + 1);
                setBanner({ kind: "info", text: `Restored as version ${version.version}.` });
              }}
            />
          )}
        </div>
      </div>
      {showAI && (
        <AIPromptBox workflowId={workflowId} onClose={() => setShowAI(false)} onCreated={(id) => navigate(`/workflows/${id}`)}
          onLoad={(definition) => {
            if (dirty && !window.confirm("Replace your unsaved changes with the suggestion?")) return;
            checkpoint();
            showDefinition(definition);
          }} />
      )}
      {showSettings && workflow && (
        <WorkflowSettings workflow={workflow} settings={settings} onClose={() => setShowSettings(false)}
          onSaved={(updated, next) => {
            setWorkflow((w) => (w ? { ...w, description: updated.description, tags: updated.tags } : w));
            if (JSON.stringify(next) !== JSON.stringify({ timezone: "UTC", timeout_s: 3600, error_workflow_id: null, ...settings })) {
              setSettings(next);
              setDirty(true);
            }
            setShowSettings(false);
          }} />
      )}
      </CanvasActionsContext.Provider>
    </EditorContext.Provider>
  );
}

/** The pins of nodes still on the canvas, in the definition (none: no `pinned` key). */
function withPins(definition: Definition, pins: Record<string, NodeOutputs>): Definition {
  const ids = new Set(definition.nodes.map((n) => n.id));
  const kept = Object.entries(pins).filter(([id]) => ids.has(id));
  return kept.length ? { ...definition, pinned: Object.fromEntries(kept) } : definition;
}

/** A workflow started only by a webhook (no manual trigger, its webhook not pinned) runs from a test call. */
export function waitsForTestCall(definition: Definition, types: Map<string, NodeType>): boolean {
  const triggers = definition.nodes.filter((n) => !n.disabled && types.get(n.type)?.is_trigger);
  if (triggers.some((n) => n.type === "core.manual_trigger")) return false;
  const hook = triggers.find((n) => n.type === "core.webhook");
  return Boolean(hook && !definition.pinned?.[hook.id]);
}

/** What the top bar shows for `/workflows/new` before the first save. */
function unsavedWorkflow(name: string): WorkflowDetail {
  const now = new Date().toISOString();
  return { id: "", name, description: null, tags: [], is_active: false, version: 0, created_at: now, updated_at: now, last_run: null, definition: null };
}
