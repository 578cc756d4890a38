// Pins the command names and argument shapes the Rust side expects (camelCase keys).
import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
const listen = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock("@tauri-apps/api/event", () => ({ listen: (...a: unknown[]) => listen(...a) }));

const { api, call } = await import("./api");

describe("api", () => {
  beforeEach(() => {
    invoke.mockResolvedValue("ok");
  });

  it.each([
    [() => api.status(), "status", undefined],
    [() => api.config(), "config", undefined],
    [() => api.activity(), "activity", undefined],
    [() => api.signIn("corp"), "sign_in", { provider: "corp" }],
    [() => api.signOut("corp"), "sign_out", { provider: "corp" }],
    [() => api.useContext("prod", null), "use_context", { cluster: "prod", namespace: null }],
    [() => api.listNamespaces("prod"), "list_namespaces", { cluster: "prod" }],
    [() => api.openKubeconfigLocation("prod"), "open_kubeconfig_location", { cluster: "prod" }],
    [() => api.discover("https://dex", null, "Y2E="), "discover", { issuer: "https://dex", caFile: null, caData: "Y2E=" }],
    [() => api.removeProvider("corp"), "remove_provider", { name: "corp" }],
    [
      () => api.probeServer("https://api", "/ca", null, false),
      "probe_server",
      { server: "https://api", caFile: "/ca", caData: null, insecureSkipTlsVerify: false },
    ],
    [() => api.removeCluster("prod"), "remove_cluster", { name: "prod" }],
    [() => api.testCluster("prod"), "test_cluster", { cluster: "prod" }],
    [() => api.importPreview({ kind: "kubeconfig", path: null }), "import_preview", { source: { kind: "kubeconfig", path: null } }],
    [() => api.importApply({ kind: "catalog", location: "https://c" }, ["lab"]), "import_apply", { source: { kind: "catalog", location: "https://c" }, allowInsecure: ["lab"] }],
  ])("%#: invokes %s with its arguments", async (run, command, args) => {
    await run();
    expect(invoke).toHaveBeenCalledWith(command, args);
  });

  it("wraps objects in their named argument", async () => {
    const settings = { startAtLogin: true, notifications: false, warningMinutes: 5, defaultKubeconfig: null, defaultCredentials: "token" as const, allowForwarding: false, forwardWithoutAsking: false };
    await api.saveSettings(settings);
    expect(invoke).toHaveBeenCalledWith("save_settings", { settings });
  });

  it("passes ErrorDto rejections through", async () => {
    invoke.mockImplementation(async () => {
      throw { code: "session.sign_in_required", message: "sign in to corp first" };
    });
    await expect(api.listNamespaces("prod")).rejects.toEqual({ code: "session.sign_in_required", message: "sign in to corp first" });
  });

  it("turns any other rejection into app.internal", async () => {
    invoke.mockImplementation(async () => {
      throw "command use_context not allowed";
    });
    await expect(call("use_context")).rejects.toEqual({ code: "app.internal", message: "command use_context not allowed" });
  });

  it("hands event payloads to the handler", async () => {
    const unlisten = vi.fn();
    listen.mockImplementation(async (_name: string, cb: (e: { payload: unknown }) => void) => {
      cb({ payload: { providers: [] } });
      return unlisten;
    });
    const handler = vi.fn();
    expect(await api.onStatusChanged(handler)).toBe(unlisten);
    expect(listen).toHaveBeenCalledWith("signet:status-changed", expect.any(Function));
    expect(handler).toHaveBeenCalledWith({ providers: [] });
    await api.onActivity(handler);
    expect(listen).toHaveBeenLastCalledWith("signet:activity", expect.any(Function));
  });
});
