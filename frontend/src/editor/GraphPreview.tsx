// A workflow's graph, read-only: the templates gallery shows it before "Use this template".
import "@xyflow/react/dist/style.css";
import { useEffect, useMemo, useState } from "react";
import { Background, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { api } from "../api/client";
import type { Definition, NodeType } from "../api/types";
import { toCanvas, toStickies } from "../lib/graph";
import { EditorContext, type EditorInfo } from "./context";
import { StickyNoteNode } from "./StickyNote";
import { WorkflowNode } from "./WorkflowNode";

const NODE_TYPES = { wirework: WorkflowNode, sticky: StickyNoteNode };

export default function GraphPreview({ definition }: { definition: Definition }) {
  const [types, setTypes] = useState<NodeType[]>([]);
  useEffect(() => {
    api.get<NodeType[]>("node-types").then(setTypes, () => undefined);
  }, []);
  const info: EditorInfo = useMemo(
    () => ({ types: new Map(types.map((t) => [t.type, t])), runs: new Map(), errors: {}, pinned: new Set(), readOnly: true }),
    [types],
  );
  const { nodes, edges } = useMemo(() => toCanvas(definition), [definition]);
  const all = useMemo(() => [...toStickies(definition), ...nodes], [definition, nodes]);
  return (
    <EditorContext.Provider value={info}>
      <ReactFlowProvider>
        <div className="graph-preview" data-testid="template-preview">
          <ReactFlow nodes={all} edges={edges} nodeTypes={NODE_TYPES} fitView fitViewOptions={{ maxZoom: 1, padding: 0.15 }}
            nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} deleteKeyCode={null}
            defaultEdgeOptions={{ type: "smoothstep" }} proOptions={{ hideAttribution: true }}>
            <Background gap={20} />
          </ReactFlow>
        </div>
      </ReactFlowProvider>
    </EditorContext.Provider>
  );
}
