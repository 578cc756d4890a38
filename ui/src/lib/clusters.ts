// The cluster list's logic: type-to-filter, grouping by provider, keyboard selection, server host,
// and the kubectl command a row copies. Pure, so the view stays a thin rendering of it.
import type { ClusterDto } from "../generated/ClusterDto";
import type { ProviderDto } from "../generated/ProviderDto";

export type ProviderGroup = { provider: ProviderDto; clusters: ClusterDto[] };
export type ClusterRow = { provider: ProviderDto; cluster: ClusterDto };

/** "https://api.prod.example.com:6443/x" → "api.prod.example.com:6443"; default ports dropped. */
export function serverHost(server: string): string {
  try {
    const url = new URL(server);
    return url.host || server;
  } catch {
    return server;
  }
}

function terms(query: string): string[] {
  return query.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
}

/** Whether every word of the query occurs in the cluster's name, context, server or provider. */
export function matchesCluster(provider: ProviderDto, cluster: ClusterDto, query: string): boolean {
  const words = terms(query);
  if (words.length === 0) return true;
  const haystack = [cluster.name, cluster.context, cluster.server, provider.name].join("\n").toLowerCase();
  return words.every((w) => haystack.includes(w));
}

/**
 * Groups clusters under their provider, keeping only matches. With an empty query every provider is
 * kept (even one without clusters, so it can still be signed in to); with a query, empty groups go.
 */
export function groupClusters(providers: ProviderDto[], query: string): ProviderGroup[] {
  const filtering = terms(query).length > 0;
  const groups: ProviderGroup[] = [];
  for (const provider of providers) {
    const clusters = provider.clusters.filter((c) => matchesCluster(provider, c, query));
    if (filtering && clusters.length === 0) continue;
    groups.push({ provider, clusters });
  }
  return groups;
}

/** The rows in display order, across groups: what ↑/↓ walk through. */
export function flattenRows(groups: ProviderGroup[]): ClusterRow[] {
  return groups.flatMap((g) => g.clusters.map((cluster) => ({ provider: g.provider, cluster })));
}

/** The selected row's name: the remembered one if still shown, else the first row, else null. */
export function effectiveSelection(rows: ClusterRow[], selected: string | null): string | null {
  if (selected !== null && rows.some((r) => r.cluster.name === selected)) return selected;
  return rows.length > 0 ? rows[0].cluster.name : null;
}

/** Moves the selection by `delta` rows (↑ = -1, ↓ = +1), stopping at the ends. */
export function moveSelection(rows: ClusterRow[], selected: string | null, delta: number): string | null {
  if (rows.length === 0) return null;
  const current = effectiveSelection(rows, selected);
  const index = rows.findIndex((r) => r.cluster.name === current);
  const next = Math.min(rows.length - 1, Math.max(0, index + delta));
  return rows[next].cluster.name;
}

/** Quotes a word for a POSIX shell only when it needs it. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9@%+=:,./_-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command a row copies. */
export function kubectlCommand(context: string): string {
  return `kubectl --context ${shellQuote(context)} get pods`;
}
