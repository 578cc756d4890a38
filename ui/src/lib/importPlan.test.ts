import { describe, expect, it } from "vitest";
import { preview } from "../test/fixtures";
import { importSource, importSourceProblem, summarisePreview, summariseResult } from "./importPlan";

describe("summarisePreview", () => {
  it("counts what will be added in one line", () => {
    expect(summarisePreview(preview()).headline).toBe(
      "Will add 1 provider, 2 clusters, 1 context adopted, 1 new kubeconfig entry, 1 skipped.",
    );
  });
  it("lists only non-empty sections, adoptions with their old user and auth", () => {
    const s = summarisePreview(preview());
    expect(s.sections.map((x) => x.id)).toEqual(["providers", "clusters", "adoptions", "new-entries", "skipped"]);
    expect(s.sections[2].items[0]).toBe(
      "prod in /home/alice/.kube/config: kubelogin oidc-login (user oidc) → Signet cluster prod via corp",
    );
  });
  it("says nothing to import for an empty preview", () => {
    expect(summarisePreview(preview({ empty: true }))).toEqual({ empty: true, headline: "Nothing to import.", sections: [] });
  });
  it("still shows notes when nothing else changes", () => {
    const s = summarisePreview(preview({ providers: [], clusters: [], adoptions: [], newEntries: [], skipped: [], notes: ["all set"] }));
    expect(s.headline).toMatch(/No changes/);
    expect(s.sections).toEqual([{ id: "notes", title: "Notes", items: ["all set"] }]);
  });
});

describe("summariseResult", () => {
  it("shows saved config, adoptions, entries and backups", () => {
    const r = summariseResult({
      configSaved: "/c.toml",
      adopted: ["prod"],
      entriesWritten: [],
      backups: ["/home/alice/.kube/config.signet-backup"],
      signIn: ["corp"],
    });
    expect(r.map((s) => s.id)).toEqual(["config", "adopted", "backups"]);
  });
});

describe("import source", () => {
  it("sends an empty kubeconfig path as null (the default chain)", () => {
    expect(importSource("kubeconfig", "  ", "x")).toEqual({ kind: "kubeconfig", path: null });
    expect(importSource("kubeconfig", " /k ", "")).toEqual({ kind: "kubeconfig", path: "/k" });
    expect(importSource("catalog", "", " https://x/c.toml ")).toEqual({ kind: "catalog", location: "https://x/c.toml" });
  });
  it("accepts catalog paths and https URLs only", () => {
    expect(importSourceProblem("kubeconfig", "")).toBeNull();
    expect(importSourceProblem("catalog", "")).toMatch(/Enter/);
    expect(importSourceProblem("catalog", "~/catalog.toml")).toBeNull();
    expect(importSourceProblem("catalog", "C:\\catalog.toml")).toBeNull();
    expect(importSourceProblem("catalog", "https://platform.example.com/signet.toml?sig=1")).toBeNull();
    expect(importSourceProblem("catalog", "http://platform.example.com/signet.toml")).toMatch(/https/);
    expect(importSourceProblem("catalog", "http://127.0.0.1:8080/signet.toml")).toBeNull();
  });
});
