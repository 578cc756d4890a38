// Small, readable DTOs for tests. The clock is fixed at NOW.
import type { AccountDto } from "../generated/AccountDto";
import type { ClusterDto } from "../generated/ClusterDto";
import type { ConfigDto } from "../generated/ConfigDto";
import type { DiscoveryDto } from "../generated/DiscoveryDto";
import type { ImportPreview } from "../generated/ImportPreview";
import type { ProviderDto } from "../generated/ProviderDto";
import type { StatusDto } from "../generated/StatusDto";
import { AppStore } from "../lib/store.svelte";

export const NOW = Date.parse("2025-03-12T10:00:00Z");
export const inMinutes = (m: number) => new Date(NOW + m * 60_000).toISOString();

export function account(over: Partial<AccountDto> = {}): AccountDto {
  return {
    subject: "Cg1hbGljZQ",
    email: "alice@example.com",
    name: "Alice",
    groups: ["devs"],
    signedInAt: inMinutes(-30),
    refreshedAt: null,
    refreshable: true,
    ...over,
  };
}

export function cluster(name: string, over: Partial<ClusterDto> = {}): ClusterDto {
  return {
    name,
    context: name,
    server: `https://api.${name}.example.com:6443`,
    audience: "kubernetes",
    expiresAt: inMinutes(12),
    current: false,
    namespace: null,
    credentials: "exec",
    kubeconfig: "/home/alice/.kube/config",
    ...over,
  };
}

export function provider(name: string, over: Partial<ProviderDto> = {}): ProviderDto {
  return {
    name,
    loginMode: "embedded",
    state: "signed_in",
    account: account(),
    expiresAt: inMinutes(12),
    signingIn: false,
    lastError: null,
    clusters: [],
    ...over,
  };
}

/** corp (signed in: prod current, staging) and lab (sign-in needed: dev). */
export function twoProviders(): StatusDto {
  return {
    providers: [
      provider("corp", { clusters: [cluster("prod", { current: true, namespace: "payments" }), cluster("staging")] }),
      provider("lab", {
        state: "sign_in_needed",
        account: null,
        expiresAt: null,
        clusters: [cluster("dev", { expiresAt: null, server: "https://10.0.0.5:6443" })],
      }),
    ],
    currentContext: "prod",
    configPath: "/home/alice/.config/signet/config.toml",
    configError: null,
  };
}

export function configFor(status: StatusDto): ConfigDto {
  return {
    providers: status.providers.map((p) => ({
      name: p.name,
      issuer: `https://dex.${p.name}.example.com`,
      clientId: "signet",
      connector: null,
      scopes: ["groups"],
      caFile: null,
      caData: null,
      login: p.loginMode,
    })),
    clusters: status.providers.flatMap((p) =>
      p.clusters.map((c) => ({
        name: c.name,
        provider: p.name,
        server: c.server,
        caFile: null,
        caData: null,
        insecureSkipTlsVerify: false,
        audience: null,
        context: null,
        namespace: c.namespace,
        credentials: c.credentials,
        kubeconfig: null,
      })),
    ),
    settings: { startAtLogin: true, notifications: true, warningMinutes: 10, defaultKubeconfig: null, defaultCredentials: "exec", allowForwarding: false, forwardWithoutAsking: false },
  };
}

export function dexDiscovery(issuer = "https://dex.example.com"): DiscoveryDto {
  return {
    issuer,
    authorizationEndpoint: `${issuer}/auth`,
    tokenEndpoint: `${issuer}/token`,
    deviceAuthorizationEndpoint: `${issuer}/device/code`,
    revocationEndpoint: null,
    grantTypes: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    scopes: ["openid", "email", "groups", "profile", "offline_access"],
    looksLikeDex: true,
  };
}

/** A store with the given status (and its config) already loaded, at the fixed clock. */
export function storeWith(status: StatusDto | null = twoProviders(), config?: ConfigDto | null): AppStore {
  const store = new AppStore();
  store.now = NOW;
  store.status = status;
  store.config = config === undefined ? (status ? configFor(status) : null) : config;
  return store;
}

/** A kubeconfig import that adds corp with prod (adopted from kubelogin) and staging. */
export function preview(over: Partial<ImportPreview> = {}): ImportPreview {
  return {
    empty: false,
    configFile: "/home/alice/.config/signet/config.toml",
    providers: ["corp"],
    clusters: ["prod", "staging"],
    reused: [],
    adoptions: [
      { context: "prod", file: "/home/alice/.kube/config", oldUser: "oidc", oldAuth: "kubelogin oidc-login", cluster: "prod", provider: "corp" },
    ],
    newEntries: ["staging"],
    skipped: ["minikube: not an OIDC user"],
    notes: [],
    insecure: [],
    ...over,
  };
}

