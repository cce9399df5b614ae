// The canvas's viewport: fit that stops at a readable zoom and starts at the trigger (on
// opening, the "1" key and the fit button), and keeping the selected node out from under panels.
import { useCallback, useEffect, useRef } from "react";
import { useNodesInitialized, useReactFlow, useStoreApi, type InternalNode, type Node } from "@xyflow/react";
import type { NodeType } from "../api/types";
import type { CanvasEdge, CanvasNode } from "../lib/graph";
import { boundsOf, panIntoView, readableViewport, type Rect } from "../lib/viewport";

const rectOf = (n: InternalNode<Node>): Rect => ({
  x: n.internals.positionAbsolute.x, y: n.internals.positionAbsolute.y, width: n.measured.width ?? 180, height: n.measured.height ?? 60,
});

/** What of the pane is not under an overlay (the node list on the left, versions on the right). */
function visibleStrip(pane: HTMLElement): { left: number; right: number; height: number } {
  const box = pane.getBoundingClientRect();
  let left = 0;
  let right = box.width;
  for (const el of document.querySelectorAll<HTMLElement>("[data-canvas-overlay]")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= box.left || r.left >= box.right) continue;
    if (el.dataset.canvasOverlay === "left") left = Math.max(left, r.right - box.left);
    else right = Math.min(right, r.left - box.left);
  }
  return { left, right, height: box.height };
}

export function useReadableFit(typeMap: Map<string, NodeType>, fitOnOpen: { current: boolean | null }) {
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  const store = useStoreApi();
  const initialized = useNodesInitialized();
  const fitted = useRef(false);

  const fit = useCallback((duration = 0) => {
    const { width, height, nodeLookup, domNode } = store.getState();
    const nodes = [...nodeLookup.values()].filter((n) => n.type === "wirework");
    if (!nodes.length || !width) return;
    const trigger = nodes.find((n) => typeMap.get((n.data as CanvasNode["data"]).type)?.is_trigger)
      ?? nodes.reduce((a, b) => (b.internals.positionAbsolute.x < a.internals.positionAbsolute.x ? b : a));
    const strip = domNode ? visibleStrip(domNode) : { left: 0, right: width, height };
    const viewport = readableViewport(boundsOf(nodes.map(rectOf)), { width: strip.right - strip.left, height }, rectOf(trigger));
    void flow.setViewport({ ...viewport, x: viewport.x + strip.left }, { duration });
  }, [flow, store, typeMap]);

  useEffect(() => {
    if (!initialized || fitted.current || !fitOnOpen.current) return;
    fitted.current = true;
    fit();
  }, [initialized, fit, fitOnOpen]);

  return fit;
}

/** When the node panel opens for `nodeId` (or a node was dropped under a panel), pan the canvas
 * so the node is in the part of the canvas the user sees. */
export function useKeepInView(nodeId: string | null) {
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  const store = useStoreApi();
  useEffect(() => {
    if (!nodeId) return;
    // Two frames: the panel has opened and the pane has its new size by then.
    let frame = requestAnimationFrame(() => {
      frame = requestAnimationFrame(() => {
        const { domNode, transform } = store.getState();
        const node = store.getState().nodeLookup.get(nodeId);
        if (!node || !domNode) return;
        const to = panIntoView(rectOf(node), { x: transform[0], y: transform[1], zoom: transform[2] }, visibleStrip(domNode));
        if (to) void flow.setViewport(to, { duration: 200 });
      });
    });
    return () => cancelAnimationFrame(frame);
  }, [nodeId, flow, store]);
}
