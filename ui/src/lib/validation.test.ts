import { describe, expect, it } from "vitest";
import {
  emptyClusterForm,
  emptyProviderForm,
  hasErrors,
  namespaceProblem,
  normaliseSettings,
  parseScopes,
  providerFormFrom,
  toClusterInput,
  toProviderInput,
  urlProblem,
  validateCluster,
  validateProvider,
  validateSettings,
} from "./validation";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("urlProblem", () => {
  it("accepts https and loopback http", () => {
    expect(urlProblem("https://dex.example.com")).toBeNull();
    expect(urlProblem("https://dex.example.com/dex")).toBeNull();
    expect(urlProblem("http://127.0.0.1:5556/dex")).toBeNull();
    expect(urlProblem("http://localhost:5556")).toBeNull();
    expect(urlProblem("http://[::1]:5556")).toBeNull();
  });
  it("refuses plain http elsewhere, other schemes, bare hosts and queries", () => {
    expect(urlProblem("http://dex.example.com")).toMatch(/https/);
    expect(urlProblem("ftp://dex.example.com")).toMatch(/https/);
    expect(urlProblem("dex.example.com")).toMatch(/full URL/);
    expect(urlProblem("https://dex.example.com/?x=1")).toMatch(/query/);
    expect(urlProblem("   ")).toBe("Required.");
  });
});

describe("provider form", () => {
  const valid = { ...emptyProviderForm(), name: "corp", issuer: "https://dex.example.com", clientId: "signet" };
  const opts = { existingNames: ["lab"], editing: false };

  it("has no errors when the required fields are filled", () => {
    expect(validateProvider(valid, opts)).toEqual({});
  });
  it("requires name, issuer and client id", () => {
    const errors = validateProvider(emptyProviderForm(), opts);
    expect(Object.keys(errors).sort()).toEqual(["clientId", "issuer", "name"]);
    expect(hasErrors(errors)).toBe(true);
  });
  it("checks the name's characters and uniqueness (not when editing)", () => {
    expect(validateProvider({ ...valid, name: "Corp" }, opts).name).toMatch(/lower-case/);
    expect(validateProvider({ ...valid, name: "a".repeat(64) }, opts).name).toMatch(/lower-case/);
    expect(validateProvider({ ...valid, name: "-x" }, opts).name).toMatch(/not starting with -/);
    expect(validateProvider({ ...valid, name: "lab" }, opts).name).toMatch(/exists/);
    expect(validateProvider({ ...valid, name: "lab" }, { ...opts, editing: true }).name).toBeUndefined();
  });
  it("rejects invalid scope tokens and CA given twice or not as PEM", () => {
    expect(validateProvider({ ...valid, scopes: 'groups "bad"' }, opts).scopes).toMatch(/bad/);
    expect(validateProvider({ ...valid, caFile: "/ca.pem", caPem: PEM }, opts).caPem).toMatch(/not both/);
    expect(validateProvider({ ...valid, caPem: "MIIB" }, opts).caPem).toMatch(/PEM/);
  });
  it("builds the ProviderInput: trimmed, scopes split, pasted PEM as base64", () => {
    const input = toProviderInput({ ...valid, name: " corp ", connector: " github ", scopes: " groups  profile groups ", caPem: PEM, login: "device" });
    expect(input).toEqual({
      name: "corp",
      issuer: "https://dex.example.com",
      clientId: "signet",
      connector: "github",
      scopes: ["groups", "profile"],
      caFile: null,
      caData: btoa(PEM),
      login: "device",
    });
  });
  it("round-trips a saved provider through the form", () => {
    const saved = toProviderInput({ ...valid, caPem: PEM });
    expect(toProviderInput(providerFormFrom(saved))).toEqual(saved);
  });
  it("splits scopes on any whitespace", () => {
    expect(parseScopes("a\tb\n c a")).toEqual(["a", "b", "c"]);
    expect(parseScopes("")).toEqual([]);
  });
});

describe("cluster form", () => {
  const valid = { ...emptyClusterForm("corp", "exec"), name: "prod", server: "https://api.prod.example.com:6443" };
  const opts = { existingNames: ["staging"], providers: ["corp"] };

  it("has no errors when name, server and provider are set", () => {
    expect(validateCluster(valid, opts)).toEqual({});
  });
  it("refuses duplicates, unknown providers, insecure with a CA and bad namespaces", () => {
    expect(validateCluster({ ...valid, name: "staging" }, opts).name).toMatch(/exists/);
    expect(validateCluster({ ...valid, provider: "" }, opts).provider).toMatch(/Choose/);
    expect(validateCluster({ ...valid, provider: "gone" }, opts).provider).toMatch(/gone/);
    expect(validateCluster({ ...valid, insecure: true, caFile: "/ca.pem" }, opts).insecure).toMatch(/cannot be combined/);
    expect(validateCluster({ ...valid, namespace: "Kube_System" }, opts).namespace).toMatch(/lower-case/);
    expect(validateCluster({ ...valid, server: "http://api.example.com" }, opts).server).toMatch(/https/);
  });
  it("checks cluster and context names with the core's rule (signet_core::names)", () => {
    for (const good of ["prod", "DEV", "arn:aws:eks:eu-west-1:123456789012:cluster/prod", "gke_p_z_prod", "oidc@prod.example.com"]) {
      expect(validateCluster({ ...valid, name: good, context: good }, opts), good).toEqual({});
    }
    for (const bad of ["-prod", "prod\u001b[2J", "pröd", "a\"b", "a#b", "a".repeat(254)]) {
      expect(validateCluster({ ...valid, name: bad }, opts).name, bad).toMatch(/letters, digits/);
      expect(validateCluster({ ...valid, context: bad }, opts).context, bad).toMatch(/letters, digits/);
    }
  });
  it("builds the ClusterInput with nulls for empty optionals", () => {
    expect(toClusterInput({ ...valid, namespace: " team-a ", credentials: "token" })).toEqual({
      name: "prod",
      provider: "corp",
      server: "https://api.prod.example.com:6443",
      caFile: null,
      caData: null,
      insecureSkipTlsVerify: false,
      audience: null,
      context: null,
      namespace: "team-a",
      credentials: "token",
      kubeconfig: null,
    });
  });
  it("checks namespaces as DNS-1123 labels", () => {
    expect(namespaceProblem("team-a")).toBeNull();
    expect(namespaceProblem("")).toMatch(/Enter/);
    expect(namespaceProblem("-a")).not.toBeNull();
    expect(namespaceProblem("a".repeat(64))).not.toBeNull();
  });
});

describe("settings", () => {
  const s = { startAtLogin: false, notifications: true, warningMinutes: 10, defaultKubeconfig: null, defaultCredentials: "exec" as const, allowForwarding: false, forwardWithoutAsking: false };
  it("accepts 1–120 whole minutes only", () => {
    expect(validateSettings(s)).toEqual({});
    expect(validateSettings({ ...s, warningMinutes: 120 })).toEqual({});
    expect(validateSettings({ ...s, warningMinutes: 0 }).warningMinutes).toBeDefined();
    expect(validateSettings({ ...s, warningMinutes: 121 }).warningMinutes).toBeDefined();
    expect(validateSettings({ ...s, warningMinutes: 2.5 }).warningMinutes).toBeDefined();
    expect(validateSettings({ ...s, warningMinutes: null as unknown as number }).warningMinutes).toBeDefined();
  });
  it("sends an empty default kubeconfig as null", () => {
    expect(normaliseSettings({ ...s, defaultKubeconfig: "  " }).defaultKubeconfig).toBeNull();
    expect(normaliseSettings({ ...s, defaultKubeconfig: " ~/.kube/signet " }).defaultKubeconfig).toBe("~/.kube/signet");
  });
});
