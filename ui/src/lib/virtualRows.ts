// The cluster list as display rows (provider headers, clusters, "no clusters yet"), and which of them a
// long list renders: only those near the visible part of the scroll area, between two spacers. With a
// thousand clusters the full table is ~25,000 elements; building them took WebKit far longer than the
// 50 ms a keystroke may take (DESIGN.md §8). Pure, so the view stays a thin rendering of it.
import type { ClusterDto } from "../generated/ClusterDto";
import type { ProviderDto } from "../generated/ProviderDto";
import type { ProviderGroup } from "./clusters";

export type DisplayRow =
  | { kind: "provider"; provider: ProviderDto }
  | { kind: "cluster"; provider: ProviderDto; cluster: ClusterDto }
  | { kind: "empty"; provider: ProviderDto };

/** Consecutive rendered rows of one provider: one `<tbody>` each. */
export type Segment = { provider: ProviderDto; rows: { row: DisplayRow; index: number }[] };

/** Lists longer than this are windowed; shorter ones render every row, as they always did. */
export const WINDOW_ABOVE = 100;
/** Rows rendered above and below the visible part, so a fast scroll or ↑/↓ rarely shows a gap. */
export const OVERSCAN = 12;

/** The viewport height assumed before the first layout: a long list's first render is one screenful. */
export const FIRST_SCREEN = 1000;

/** Row heights in pixels (measured from the rendered rows; these are the first guesses). */
export type Heights = { provider: number; cluster: number; empty: number };
export const DEFAULT_HEIGHTS: Heights = { provider: 41, cluster: 49, empty: 41 };

export function displayRows(groups: ProviderGroup[]): DisplayRow[] {
  const rows: DisplayRow[] = [];
  for (const g of groups) {
    rows.push({ kind: "provider", provider: g.provider });
    for (const cluster of g.clusters) rows.push({ kind: "cluster", provider: g.provider, cluster });
    if (g.clusters.length === 0) rows.push({ kind: "empty", provider: g.provider });
  }
  return rows;
}

/** `offsets[i]` is the top of row `i`; `offsets[rows.length]` the height of them all. */
export function rowOffsets(rows: DisplayRow[], heights: Heights): number[] {
  const offsets = new Array<number>(rows.length + 1);
  let at = 0;
  for (let i = 0; i < rows.length; i++) {
    offsets[i] = at;
    at += heights[rows[i].kind];
  }
  offsets[rows.length] = at;
  return offsets;
}

/** The first row whose bottom is below `y` (binary search over the offsets). */
function rowAt(offsets: number[], y: number): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid + 1] <= y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export type Window = { start: number; end: number; top: number; bottom: number };

/**
 * The rows to render, `[start, end)`, for a viewport of `height` pixels whose top is `top` pixels below
 * the first row, and the spacer heights above and below them. Short lists render everything. Before
 * the first layout (height unknown) a long list renders its first [FIRST_SCREEN] pixels: rendering all
 * of a thousand rows once took WebKit most of a second (DESIGN.md §8: open → first paint ≤ 300 ms).
 */
export function visibleWindow(offsets: number[], top: number, height: number, overscan = OVERSCAN): Window {
  const count = offsets.length - 1;
  if (count <= WINDOW_ABOVE) return { start: 0, end: count, top: 0, bottom: 0 };
  if (height <= 0) return visibleWindow(offsets, 0, FIRST_SCREEN, overscan);
  const first = rowAt(offsets, Math.max(0, top));
  const last = rowAt(offsets, Math.max(0, top + height));
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, last + 1 + overscan);
  return { start, end, top: offsets[start], bottom: offsets[count] - offsets[end] };
}

/** The rows of `window` grouped into one segment per provider run, in order. */
export function segments(rows: DisplayRow[], window: Window): Segment[] {
  const out: Segment[] = [];
  for (let index = window.start; index < window.end; index++) {
    const row = rows[index];
    const last = out[out.length - 1];
    if (last && last.provider === row.provider) last.rows.push({ row, index });
    else out.push({ provider: row.provider, rows: [{ row, index }] });
  }
  return out;
}

/**
 * Where to scroll (the viewport's top, in list pixels) so that row `index` is fully visible, moving as
 * little as possible; `null` when it already is.
 */
export function scrollToShow(offsets: number[], index: number, top: number, height: number): number | null {
  const rowTop = offsets[index];
  const rowBottom = offsets[index + 1];
  if (rowTop < top) return rowTop;
  if (rowBottom > top + height) return rowBottom - height;
  return null;
}
