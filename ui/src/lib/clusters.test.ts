import { describe, expect, it } from "vitest";
import { cluster, provider, twoProviders } from "../test/fixtures";
import {
  effectiveSelection,
  flattenRows,
  groupClusters,
  kubectlCommand,
  matchesCluster,
  moveSelection,
  serverHost,
  shellQuote,
} from "./clusters";

describe("serverHost", () => {
  it("keeps host and non-default port", () => {
    expect(serverHost("https://api.prod.example.com:6443")).toBe("api.prod.example.com:6443");
  });
  it("drops the default https port and the path", () => {
    expect(serverHost("https://api.example.com:443/k8s/clusters/c-1")).toBe("api.example.com");
  });
  it("keeps IPv6 brackets", () => {
    expect(serverHost("https://[::1]:6443")).toBe("[::1]:6443");
  });
  it("returns text that is not a URL unchanged", () => {
    expect(serverHost("not a url")).toBe("not a url");
  });
});

describe("filtering and grouping", () => {
  const providers = twoProviders().providers;
  const corp = providers[0];

  it("matches name, context, server and provider case-insensitively", () => {
    const c = cluster("prod", { context: "prod-admin", server: "https://k8s.internal:6443" });
    expect(matchesCluster(corp, c, "PROD")).toBe(true);
    expect(matchesCluster(corp, c, "admin")).toBe(true);
    expect(matchesCluster(corp, c, "internal")).toBe(true);
    expect(matchesCluster(corp, c, "corp")).toBe(true);
    expect(matchesCluster(corp, c, "lab")).toBe(false);
  });

  it("requires every word of the query to match", () => {
    expect(matchesCluster(corp, corp.clusters[0], "corp prod")).toBe(true);
    expect(matchesCluster(corp, corp.clusters[0], "corp dev")).toBe(false);
  });

  it("keeps all providers, even without clusters, when the query is empty", () => {
    const empty = provider("empty");
    const groups = groupClusters([...providers, empty], "  ");
    expect(groups.map((g) => g.provider.name)).toEqual(["corp", "lab", "empty"]);
    expect(groups[0].clusters.map((c) => c.name)).toEqual(["prod", "staging"]);
  });

  it("drops providers without matches while filtering", () => {
    const groups = groupClusters(providers, "dev");
    expect(groups.map((g) => g.provider.name)).toEqual(["lab"]);
  });

  it("a provider name match keeps all its clusters", () => {
    const groups = groupClusters(providers, "corp");
    expect(flattenRows(groups).map((r) => r.cluster.name)).toEqual(["prod", "staging"]);
  });
});

describe("keyboard selection", () => {
  const rows = flattenRows(groupClusters(twoProviders().providers, ""));

  it("selects the first row when nothing (or a hidden row) is selected", () => {
    expect(effectiveSelection(rows, null)).toBe("prod");
    expect(effectiveSelection(rows, "gone")).toBe("prod");
    expect(effectiveSelection([], "prod")).toBeNull();
  });

  it("moves down across provider groups and stops at the ends", () => {
    expect(moveSelection(rows, "prod", 1)).toBe("staging");
    expect(moveSelection(rows, "staging", 1)).toBe("dev");
    expect(moveSelection(rows, "dev", 1)).toBe("dev");
    expect(moveSelection(rows, "prod", -1)).toBe("prod");
    expect(moveSelection(rows, "prod", 10)).toBe("dev");
  });

  it("returns null on an empty list", () => {
    expect(moveSelection([], null, 1)).toBeNull();
  });
});

describe("kubectl command", () => {
  it("copies a plain context unquoted", () => {
    expect(kubectlCommand("prod")).toBe("kubectl --context prod get pods");
  });
  it("quotes contexts a shell would split or expand", () => {
    expect(shellQuote("my ctx")).toBe("'my ctx'");
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
    expect(kubectlCommand("$HOME")).toBe("kubectl --context '$HOME' get pods");
  });
  it("leaves EKS-style ARNs readable", () => {
    expect(shellQuote("arn:aws:eks:eu-west-1:123:cluster/prod")).toBe("arn:aws:eks:eu-west-1:123:cluster/prod");
  });
});
