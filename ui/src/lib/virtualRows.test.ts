import { describe, expect, it } from "vitest";
import { cluster, provider } from "../test/fixtures";
import { groupClusters } from "./clusters";
import { DEFAULT_HEIGHTS, FIRST_SCREEN, displayRows, rowOffsets, scrollToShow, segments, visibleWindow, WINDOW_ABOVE } from "./virtualRows";

/** `count` providers with `per` clusters each. */
function many(count: number, per: number) {
  return Array.from({ length: count }, (_, p) =>
    provider(`team-${p}`, { clusters: Array.from({ length: per }, (_, c) => cluster(`cluster-${p}-${c}`)) }),
  );
}

const heights = { provider: 40, cluster: 50, empty: 30 };

describe("virtualRows", () => {
  it("lists each provider's header, then its clusters, or a 'no clusters' row", () => {
    const rows = displayRows(groupClusters([...many(1, 2), provider("empty")], ""));
    expect(rows.map((r) => (r.kind === "cluster" ? r.cluster.name : `${r.kind}:${r.provider.name}`))).toEqual([
      "provider:team-0",
      "cluster-0-0",
      "cluster-0-1",
      "provider:empty",
      "empty:empty",
    ]);
    expect(rowOffsets(rows, heights)).toEqual([0, 40, 90, 140, 180, 210]);
  });

  it("renders every row of a short list, and a first screenful of a long one before there is a layout", () => {
    const short = rowOffsets(displayRows(groupClusters(many(2, 10), "")), heights);
    expect(visibleWindow(short, 0, 500)).toEqual({ start: 0, end: short.length - 1, top: 0, bottom: 0 });
    expect(visibleWindow(short, 0, 0)).toEqual({ start: 0, end: short.length - 1, top: 0, bottom: 0 });
    const long = rowOffsets(displayRows(groupClusters(many(50, 20), "")), heights);
    expect(long.length - 1).toBeGreaterThan(WINDOW_ABOVE);
    const first = visibleWindow(long, 0, 0);
    expect(first.start).toBe(0);
    expect(long[first.end]).toBeGreaterThanOrEqual(FIRST_SCREEN);
    expect(first.end).toBeLessThan(40);
  });

  it("renders the visible rows of a long list with some overscan, and spacers for the rest", () => {
    const rows = displayRows(groupClusters(many(50, 20), ""));
    const offsets = rowOffsets(rows, heights);
    const total = offsets[rows.length];
    // 1,050 rows: 50 headers of 40 px and 1,000 clusters of 50 px.
    expect(total).toBe(50 * 40 + 1000 * 50);
    const top = offsets[500];
    const w = visibleWindow(offsets, top, 600, 5);
    expect(w.start).toBe(495);
    expect(offsets[w.end]).toBeGreaterThanOrEqual(top + 600);
    expect(w.end - w.start).toBeLessThan(30);
    expect(w.top).toBe(offsets[495]);
    expect(w.top + (offsets[w.end] - offsets[w.start]) + w.bottom).toBe(total);
    // Above the list (the view's heading is on screen): from the first row.
    expect(visibleWindow(offsets, -200, 600, 5).start).toBe(0);
    // Past the end: the last rows.
    expect(visibleWindow(offsets, total + 100, 600, 5).end).toBe(rows.length);
  });

  it("groups the rendered rows into one segment per provider", () => {
    const rows = displayRows(groupClusters(many(3, 2), ""));
    const parts = segments(rows, { start: 2, end: 7, top: 0, bottom: 0 });
    expect(parts.map((p) => [p.provider.name, p.rows.map((r) => r.index)])).toEqual([
      ["team-0", [2]],
      ["team-1", [3, 4, 5]],
      ["team-2", [6]],
    ]);
  });

  it("scrolls as little as needed to show a row", () => {
    const offsets = rowOffsets(displayRows(groupClusters(many(50, 20), "")), DEFAULT_HEIGHTS);
    expect(scrollToShow(offsets, 3, 0, 600)).toBeNull();
    expect(scrollToShow(offsets, 100, 0, 600)).toBe(offsets[101] - 600);
    expect(scrollToShow(offsets, 10, offsets[50], 600)).toBe(offsets[10]);
  });
});
