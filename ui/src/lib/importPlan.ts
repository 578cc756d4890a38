// What an import would do, and what it did, as sections of plain sentences for the Import view.
import type { AdoptionDto } from "../generated/AdoptionDto";
import type { ImportPreview } from "../generated/ImportPreview";
import type { ImportResult } from "../generated/ImportResult";
import type { ImportSourceDto } from "../generated/ImportSourceDto";
import { isLoopback } from "./validation";

export type PlanSection = { id: string; title: string; items: string[] };
export type PlanSummary = { empty: boolean; headline: string; sections: PlanSection[] };

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function adoptionText(a: AdoptionDto): string {
  return `${a.context} in ${a.file}: ${a.oldAuth} (user ${a.oldUser}) → Signet cluster ${a.cluster} via ${a.provider}`;
}

/** A one-line summary plus the non-empty sections of a preview, in the order a person reads them. */
export function summarisePreview(p: ImportPreview): PlanSummary {
  if (p.empty) return { empty: true, headline: "Nothing to import.", sections: [] };
  const parts: string[] = [];
  if (p.providers.length > 0) parts.push(count(p.providers.length, "provider", "providers"));
  if (p.clusters.length > 0) parts.push(count(p.clusters.length, "cluster", "clusters"));
  if (p.adoptions.length > 0) parts.push(count(p.adoptions.length, "context adopted", "contexts adopted"));
  if (p.newEntries.length > 0) parts.push(count(p.newEntries.length, "new kubeconfig entry", "new kubeconfig entries"));
  if (p.skipped.length > 0) parts.push(`${p.skipped.length} skipped`);
  const headline = parts.length > 0 ? `Will add ${parts.join(", ")}.` : "No changes besides the notes below.";
  const all: PlanSection[] = [
    { id: "providers", title: "Providers added", items: p.providers },
    { id: "clusters", title: "Clusters added", items: p.clusters },
    { id: "reused", title: "Already configured (reused)", items: p.reused },
    { id: "adoptions", title: "Contexts adopted (their user is replaced by Signet's)", items: p.adoptions.map(adoptionText) },
    { id: "new-entries", title: "New kubeconfig entries", items: p.newEntries },
    { id: "skipped", title: "Skipped", items: p.skipped },
    { id: "notes", title: "Notes", items: p.notes },
  ];
  return { empty: false, headline, sections: all.filter((s) => s.items.length > 0) };
}

/** The sections of an applied import's result. */
export function summariseResult(r: ImportResult): PlanSection[] {
  const all: PlanSection[] = [
    { id: "config", title: "Config saved", items: r.configSaved ? [r.configSaved] : [] },
    { id: "adopted", title: "Contexts adopted", items: r.adopted },
    { id: "entries", title: "kubeconfig entries written", items: r.entriesWritten },
    { id: "backups", title: "Backups made", items: r.backups },
  ];
  return all.filter((s) => s.items.length > 0);
}

/** The import source for the form's inputs (an empty kubeconfig path means kubectl's default chain). */
export function importSource(kind: "kubeconfig" | "catalog", path: string, location: string): ImportSourceDto {
  if (kind === "kubeconfig") {
    const p = path.trim();
    return { kind: "kubeconfig", path: p === "" ? null : p };
  }
  return { kind: "catalog", location: location.trim() };
}

/** Why the source cannot be previewed yet, or null. A catalog is a file path or an https URL. */
export function importSourceProblem(kind: "kubeconfig" | "catalog", location: string): string | null {
  if (kind === "kubeconfig") return null;
  const l = location.trim();
  if (l === "") return "Enter a catalog file path or an https URL.";
  if (!/^[a-z][a-z0-9+.-]*:/i.test(l) || /^[a-z]:[\\/]/i.test(l)) return null; // a path (C:\ too)
  let url: URL;
  try {
    url = new URL(l);
  } catch {
    return "Enter a full URL, e.g. https://platform.example.com/signet.toml.";
  }
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return null;
  if (url.protocol === "file:") return null;
  return "Use an https URL (or a file path).";
}
