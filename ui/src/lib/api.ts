// The one place that talks to the Rust side: every `invoke` and `listen` of the window goes
// through here, typed with the DTOs that ts-rs generates from `src-tauri/src/dto.rs`.
// Views import `api` and never `@tauri-apps/api` directly, so tests can replace this module.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { ActivityEntry } from "../generated/ActivityEntry";
import type { ClusterInput } from "../generated/ClusterInput";
import type { ConfigDto } from "../generated/ConfigDto";
import type { ContextSwitched } from "../generated/ContextSwitched";
import type { DiscoveryDto } from "../generated/DiscoveryDto";
import type { ImportPreview } from "../generated/ImportPreview";
import type { ImportResult } from "../generated/ImportResult";
import type { ImportSourceDto } from "../generated/ImportSourceDto";
import type { NamespaceList } from "../generated/NamespaceList";
import type { ProviderInput } from "../generated/ProviderInput";
import type { ReviewDto } from "../generated/ReviewDto";
import type { ServerProbe } from "../generated/ServerProbe";
import type { SettingsDto } from "../generated/SettingsDto";
import type { SignedOut } from "../generated/SignedOut";
import type { SignInStarted } from "../generated/SignInStarted";
import type { StatusDto } from "../generated/StatusDto";
import { toErrorDto } from "./errors";

/** Event names the Rust side emits to this window. */
export const EVENTS = {
  statusChanged: "signet:status-changed",
  activity: "signet:activity",
} as const;

/** Invokes a command; a rejection is always an ErrorDto (`app.internal` when Rust sent something else). */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toErrorDto(e);
  }
}

async function subscribe<T>(event: string, handler: (payload: T) => void): Promise<UnlistenFn> {
  try {
    return await listen<T>(event, (e) => handler(e.payload));
  } catch (e) {
    throw toErrorDto(e);
  }
}

export const api = {
  status: () => call<StatusDto>("status"),
  config: () => call<ConfigDto>("config"),
  /** Newest first. */
  activity: () => call<ActivityEntry[]>("activity"),

  signIn: (provider: string) => call<SignInStarted>("sign_in", { provider }),
  signOut: (provider: string) => call<SignedOut>("sign_out", { provider }),

  useContext: (cluster: string, namespace: string | null) =>
    call<ContextSwitched>("use_context", { cluster, namespace }),
  listNamespaces: (cluster: string) => call<NamespaceList>("list_namespaces", { cluster }),
  openKubeconfigLocation: (cluster: string) => call<null>("open_kubeconfig_location", { cluster }),

  discover: (issuer: string, caFile: string | null, caData: string | null) =>
    call<DiscoveryDto>("discover", { issuer, caFile, caData }),
  saveProvider: (provider: ProviderInput) => call<ConfigDto>("save_provider", { provider }),
  removeProvider: (name: string) => call<ConfigDto>("remove_provider", { name }),

  probeServer: (server: string, caFile: string | null, caData: string | null, insecureSkipTlsVerify: boolean) =>
    call<ServerProbe>("probe_server", { server, caFile, caData, insecureSkipTlsVerify }),
  addCluster: (cluster: ClusterInput) => call<ConfigDto>("add_cluster", { cluster }),
  removeCluster: (name: string) => call<ConfigDto>("remove_cluster", { name }),
  testCluster: (cluster: string) => call<ReviewDto>("test_cluster", { cluster }),

  importPreview: (source: ImportSourceDto) => call<ImportPreview>("import_preview", { source }),
  importApply: (source: ImportSourceDto, allowInsecure: string[]) =>
    call<ImportResult>("import_apply", { source, allowInsecure }),

  saveSettings: (settings: SettingsDto) => call<SettingsDto>("save_settings", { settings }),

  onStatusChanged: (handler: (status: StatusDto) => void) => subscribe(EVENTS.statusChanged, handler),
  onActivity: (handler: (entry: ActivityEntry) => void) => subscribe(EVENTS.activity, handler),
};

export type Api = typeof api;
