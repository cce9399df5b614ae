import { describe, expect, it } from "vitest";
import { boundsOf, panIntoView, readableViewport, READABLE_ZOOM } from "./viewport";

describe("fit at a readable zoom", () => {
  it("fits a small workflow whole, centred, at most 1.2", () => {
    const v = readableViewport({ x: 0, y: 0, width: 400, height: 100 }, { width: 1000, height: 600 }, null);
    expect(v.zoom).toBe(1.2);
    expect(v.x + (200 * v.zoom)).toBeCloseTo(500); // the middle of the nodes is the middle of the pane
  });

  it("stops at the readable zoom for a large workflow and puts the trigger at the left", () => {
    const trigger = { x: 0, y: 5000, width: 180, height: 60 };
    const v = readableViewport(boundsOf([trigger, { x: 50_000, y: 0, width: 180, height: 10_000 }]), { width: 1000, height: 600 }, trigger);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(trigger.x * v.zoom + v.x).toBe(40);
    expect((trigger.y + 30) * v.zoom + v.y).toBe(300);
  });
});

describe("keep the selected node in view", () => {
  const node = { x: 1000, y: 100, width: 180, height: 60 };
  it("leaves a node that is visible where it is", () => {
    expect(panIntoView(node, { x: -500, y: 0, zoom: 1 }, { left: 0, right: 1000, height: 800 })).toBeNull();
  });

  it("pans a node hidden under a panel to the middle of the visible part", () => {
    const v = panIntoView(node, { x: 0, y: 0, zoom: 1 }, { left: 250, right: 900, height: 800 })!;
    expect(v.zoom).toBe(1);
    expect((node.x + 90) * v.zoom + v.x).toBe(575);
  });
});
