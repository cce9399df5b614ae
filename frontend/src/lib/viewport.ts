// Where the canvas looks: "fit" that stops at a readable zoom and then starts at the trigger,
// and the pan that brings a node out from under a panel.

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

/** Below this zoom a node's name cannot be read. */
export const READABLE_ZOOM = 0.5;
export const MAX_FIT_ZOOM = 1.2;

export function boundsOf(rects: Rect[]): Rect {
  const x = Math.min(...rects.map((r) => r.x));
  const y = Math.min(...rects.map((r) => r.y));
  const right = Math.max(...rects.map((r) => r.x + r.width));
  const bottom = Math.max(...rects.map((r) => r.y + r.height));
  return { x, y, width: right - x, height: bottom - y };
}

/**
 * Show the whole workflow when it fits at a readable zoom or more; otherwise stay at
 * READABLE_ZOOM with `start` (the trigger) at the left edge, vertically centred, so the user
 * reads from where the workflow begins. `pane` is the canvas's size in screen pixels.
 */
export function readableViewport(bounds: Rect, pane: { width: number; height: number }, start: Rect | null, padding = 40): Viewport {
  const fit = Math.min((pane.width - 2 * padding) / Math.max(bounds.width, 1), (pane.height - 2 * padding) / Math.max(bounds.height, 1));
  if (fit >= READABLE_ZOOM) {
    const zoom = Math.min(fit, MAX_FIT_ZOOM);
    return {
      x: pane.width / 2 - (bounds.x + bounds.width / 2) * zoom,
      y: pane.height / 2 - (bounds.y + bounds.height / 2) * zoom,
      zoom,
    };
  }
  const zoom = READABLE_ZOOM;
  const anchor = start ?? { x: bounds.x, y: bounds.y + bounds.height / 2, width: 0, height: 0 };
  return { x: padding - anchor.x * zoom, y: pane.height / 2 - (anchor.y + anchor.height / 2) * zoom, zoom };
}

/**
 * The viewport that brings `node` (flow coordinates) into the visible strip [left, right] of the
 * pane, keeping the zoom; null when it is already inside (with a margin).
 */
export function panIntoView(node: Rect, viewport: Viewport, visible: { left: number; right: number; height: number }, margin = 24): Viewport | null {
  const { zoom } = viewport;
  const sx = node.x * zoom + viewport.x;
  const sy = node.y * zoom + viewport.y;
  const inside = sx >= visible.left + margin && sx + node.width * zoom <= visible.right - margin && sy >= margin && sy + node.height * zoom <= visible.height - margin;
  if (inside) return null;
  const cx = (visible.left + visible.right) / 2;
  const cy = visible.height / 2;
  return { x: cx - (node.x + node.width / 2) * zoom, y: cy - (node.y + node.height / 2) * zoom, zoom };
}
