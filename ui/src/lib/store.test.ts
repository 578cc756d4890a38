import { describe, expect, it, vi } from "vitest";
import type { ActivityEntry } from "../generated/ActivityEntry";
import type { StatusDto } from "../generated/StatusDto";
import { api } from "../test/apiMock";
import { cluster, configFor, provider, twoProviders } from "../test/fixtures";
import { AppStore, namesOfConfig } from "./store.svelte";

vi.mock("./api", () => import("../test/apiMock"));

function entry(message: string, kind: ActivityEntry["kind"] = "refreshed"): ActivityEntry {
  return { at: "2025-03-12T10:00:00Z", provider: "corp", kind, message, code: null };
}

describe("AppStore", () => {
  it("subscribes before loading, so an event during the load is not overwritten by an older answer", async () => {
    let push: (s: StatusDto) => void = () => {};
    api.onStatusChanged.mockImplementation(async (h: (s: StatusDto) => void) => ((push = h), () => {}));
    api.onActivity.mockResolvedValue(() => {});
    const older = twoProviders();
    const newer = { ...twoProviders(), currentContext: "staging" };
    api.status.mockImplementation(async () => {
      push(newer);
      return older;
    });
    api.config.mockResolvedValue(configFor(older));
    const store = new AppStore();
    await store.start();
    expect(store.status?.currentContext).toBe("staging");
    expect(api.onStatusChanged.mock.invocationCallOrder[0]).toBeLessThan(api.status.mock.invocationCallOrder[0]);
  });

  it("asks for both subscriptions at once and for the status only when both are in place", async () => {
    const answers: (() => void)[] = [];
    const pending = () => new Promise<() => void>((resolve) => answers.push(() => resolve(() => {})));
    api.onStatusChanged.mockImplementation(pending);
    api.onActivity.mockImplementation(pending);
    api.status.mockResolvedValue(twoProviders());
    api.config.mockResolvedValue(configFor(twoProviders()));
    const store = new AppStore();
    const started = store.start();
    await Promise.resolve();
    expect(answers).toHaveLength(2);
    answers[0]();
    await new Promise((r) => setTimeout(r, 0));
    expect(api.status).not.toHaveBeenCalled();
    answers[1]();
    await started;
    expect(api.status).toHaveBeenCalledTimes(1);
    expect(store.status).not.toBeNull();
  });

  it("reloads the config when a status names other providers or clusters", async () => {
    api.config.mockResolvedValue(configFor(twoProviders()));
    const store = new AppStore();
    store.config = configFor(twoProviders());
    store.setStatus(twoProviders());
    expect(api.config).not.toHaveBeenCalled();
    const changed = twoProviders();
    changed.providers.pop();
    store.setStatus(changed);
    expect(api.config).toHaveBeenCalledTimes(1);
  });

  it("names a config's clusters in one pass over them, not one per provider", () => {
    const status: StatusDto = {
      ...twoProviders(),
      providers: Array.from({ length: 50 }, (_, p) =>
        provider(`p${p}`, { clusters: Array.from({ length: 20 }, (_, c) => cluster(`p${p}-c${c}`)) }),
      ),
    };
    const config = configFor(status);
    let reads = 0;
    const clusters = new Proxy(config.clusters, {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) reads += 1;
        return Reflect.get(target, key, receiver);
      },
    });
    namesOfConfig({ ...config, clusters });
    expect(reads).toBe(1000);
    // The same names as the status's; a cluster moved to another provider makes them differ.
    const store = new AppStore();
    api.config.mockClear();
    store.config = config;
    store.setStatus(status);
    expect(api.config).not.toHaveBeenCalled();
    const moved = structuredClone(status);
    moved.providers[1].clusters.push(moved.providers[0].clusters.pop()!);
    store.setStatus(moved);
    expect(api.config).toHaveBeenCalledTimes(1);
  });

  it("keeps activity newest first without duplicates, and reloads config on config_changed", async () => {
    api.activity.mockResolvedValue([entry("b"), entry("a")]);
    api.config.mockResolvedValue(configFor(twoProviders()));
    const store = new AppStore();
    store.addActivity(entry("c"));
    await store.loadActivity();
    store.addActivity(entry("c"));
    expect(store.activity?.map((e) => e.message)).toEqual(["c", "b", "a"]);
    store.addActivity(entry("d", "config_changed"));
    expect(store.activity?.[0].message).toBe("d");
    expect(api.config).toHaveBeenCalledTimes(1);
  });

  it("marks the switched context current at once", () => {
    const store = new AppStore();
    store.status = twoProviders();
    store.contextSwitched({ context: "staging", namespace: "team-a", kubeconfig: "/k" }, "staging");
    const corp = store.status.providers[0];
    expect(store.status.currentContext).toBe("staging");
    expect(corp.clusters.map((c) => c.current)).toEqual([false, true]);
    expect(corp.clusters[1].namespace).toBe("team-a");
    expect(store.feedback).toBe("Switched to staging (namespace team-a).");
  });

  it("replaces “Signing in…” in the status line with who signed in once the status says so", async () => {
    const store = new AppStore();
    const before = twoProviders();
    before.providers[1].signingIn = false;
    store.setStatus(before);
    api.signIn.mockResolvedValue({ provider: "lab", mode: "embedded", alreadyRunning: false });
    expect(await store.signIn("lab")).toBeNull();
    expect(store.feedback).toBe("Signing in to lab in the login window…");
    // An older status (not running yet, not signed in) does not end it.
    store.setStatus(before);
    expect(store.feedback).toBe("Signing in to lab in the login window…");
    const running = twoProviders();
    running.providers[1].signingIn = true;
    store.setStatus(running);
    expect(store.feedback).toBe("Signing in to lab in the login window…");
    const done = twoProviders();
    done.providers[1] = { ...done.providers[0], name: "lab", clusters: done.providers[1].clusters };
    store.setStatus(done);
    expect(store.feedback).toBe("Signed in to lab as alice@example.com.");
  });

  it("says when an announced sign-in ended without a session, and leaves other messages alone", async () => {
    const store = new AppStore();
    const running = twoProviders();
    running.providers[1].signingIn = true;
    store.setStatus(twoProviders());
    api.signIn.mockResolvedValue({ provider: "lab", mode: "embedded", alreadyRunning: false });
    await store.signIn("lab");
    store.setStatus(running);
    store.setStatus(twoProviders());
    expect(store.feedback).toBe("Sign-in to lab did not finish.");

    await store.signIn("lab");
    store.setStatus(running);
    store.feedback = "Copied: kubectl --context dev get pods";
    store.setStatus(twoProviders());
    expect(store.feedback).toBe("Copied: kubectl --context dev get pods");
  });

  it("shows the outcome when the sign-in ended before the command answered", async () => {
    const store = new AppStore();
    store.setStatus(twoProviders());
    let answer: (v: unknown) => void = () => {};
    api.signIn.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const started = store.signIn("lab");
    const running = twoProviders();
    running.providers[1].signingIn = true;
    store.setStatus(running);
    const done = twoProviders();
    done.providers[1] = { ...done.providers[0], name: "lab", clusters: done.providers[1].clusters };
    store.setStatus(done);
    answer({ provider: "lab", mode: "embedded", alreadyRunning: false });
    expect(await started).toBeNull();
    expect(store.feedback).toBe("Signed in to lab as alice@example.com.");
  });

  it("hands an intent to its view once", () => {
    const store = new AppStore();
    store.navigate("import", { view: "import", kind: "catalog" });
    expect(store.view).toBe("import");
    expect(store.takeIntent("providers")).toBeNull();
    expect(store.takeIntent("import")).toEqual({ view: "import", kind: "catalog" });
    expect(store.takeIntent("import")).toBeNull();
  });

  it("shows a failed first status load as an error", async () => {
    api.onStatusChanged.mockResolvedValue(() => {});
    api.onActivity.mockResolvedValue(() => {});
    api.status.mockRejectedValue({ code: "app.internal", message: "no" });
    api.config.mockResolvedValue(configFor(twoProviders()));
    const store = new AppStore();
    await store.start();
    expect(store.status).toBeNull();
    expect(store.statusError).toEqual({ code: "app.internal", message: "no" });
  });
});
