import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { api } from "../test/apiMock";
import { expectNoAxeViolations } from "../test/axe";
import { cluster, configFor, provider, storeWith, twoProviders } from "../test/fixtures";
import { renderInMain } from "../test/render";
import Clusters from "./Clusters.svelte";

vi.mock("../lib/api", () => import("../test/apiMock"));

function row(name: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-cluster="${name}"]`);
  if (!el) throw new Error(`no row for ${name}`);
  return el;
}

describe("Clusters", () => {
  it("groups rows by provider with their state, host, namespace and the current mark", async () => {
    renderInMain(Clusters, { store: storeWith() });

    const corp = document.querySelector<HTMLElement>('[data-provider="corp"]')!;
    const lab = document.querySelector<HTMLElement>('[data-provider="lab"]')!;
    expect(corp.querySelector(".provider-state")!.textContent).toBe("Signed in as alice@example.com · expires in 12 min");
    expect(lab.querySelector(".provider-state")!.textContent).toBe("Sign-in needed");
    expect([...corp.querySelectorAll("[data-cluster]")].map((r) => r.getAttribute("data-cluster"))).toEqual(["prod", "staging"]);
    expect([...lab.querySelectorAll("[data-cluster]")].map((r) => r.getAttribute("data-cluster"))).toEqual(["dev"]);
    expect(corp.querySelector(".sign-out")).not.toBeNull();
    expect(corp.querySelector(".sign-in")).toBeNull();
    expect(lab.querySelector(".sign-in")).not.toBeNull();

    expect(row("prod").dataset.state).toBe("signed_in");
    expect(row("dev").dataset.state).toBe("sign_in_needed");
    expect(row("prod").querySelector(".cluster-state")!.textContent).toBe("Signed in · expires in 12 min");
    expect(row("prod").textContent).toContain("api.prod.example.com:6443");
    expect(row("prod").querySelector(".namespace-button")!.textContent).toContain("payments");
    expect(document.querySelectorAll(".current-mark")).toHaveLength(1);
    expect(row("prod").querySelector(".current-mark")).not.toBeNull();

    await expectNoAxeViolations();
  });

  it("focuses the filter on open and filters by name, context, server or provider", async () => {
    renderInMain(Clusters, { store: storeWith() });
    const filter = document.getElementById("filter") as HTMLInputElement;
    expect(document.activeElement).toBe(filter);

    await fireEvent.input(filter, { target: { value: "lab" } });
    expect([...document.querySelectorAll("[data-cluster]")].map((r) => r.getAttribute("data-cluster"))).toEqual(["dev"]);
    expect(document.querySelector('[data-provider="corp"]')).toBeNull();

    await fireEvent.input(filter, { target: { value: "nothing-like-this" } });
    expect(screen.getByText(/No cluster matches/)).toBeTruthy();
  });

  it("moves the selection with the arrow keys and switches on Enter", async () => {
    const store = storeWith();
    api.useContext.mockResolvedValue({ context: "staging", namespace: null, kubeconfig: "/home/alice/.kube/config" });
    api.status.mockImplementation(async () => store.status); // Rust's answer agrees with the switch
    renderInMain(Clusters, { store });
    const filter = document.getElementById("filter")!;

    expect(row("prod").getAttribute("aria-selected")).toBe("true");
    await fireEvent.keyDown(filter, { key: "ArrowDown" });
    expect(row("staging").getAttribute("aria-selected")).toBe("true");
    expect(row("prod").getAttribute("aria-selected")).toBe("false");
    expect(filter.getAttribute("aria-activedescendant")).toBe(row("staging").id);

    await fireEvent.keyDown(filter, { key: "Enter" });
    expect(api.useContext).toHaveBeenCalledWith("staging", null);
    await waitFor(() => expect(row("staging").querySelector(".current-mark")).not.toBeNull());
    expect(row("prod").querySelector(".current-mark")).toBeNull();
    expect(store.status?.currentContext).toBe("staging");
    expect(store.feedback).toBe("Switched to staging.");
  });

  it("switches the first match when Enter follows typing", async () => {
    api.useContext.mockResolvedValue({ context: "dev", namespace: null, kubeconfig: "/k" });
    api.status.mockResolvedValue(twoProviders());
    renderInMain(Clusters, { store: storeWith() });
    const filter = document.getElementById("filter")!;
    await fireEvent.input(filter, { target: { value: "dev" } });
    await fireEvent.keyDown(filter, { key: "Enter" });
    expect(api.useContext).toHaveBeenCalledWith("dev", null);
  });

  it("shows a failed switch as an alert with its code and keeps the filter text", async () => {
    api.useContext.mockRejectedValue({ code: "kubeconfig.locked", message: "the kubeconfig is locked by another program" });
    renderInMain(Clusters, { store: storeWith() });
    const filter = document.getElementById("filter") as HTMLInputElement;
    await fireEvent.input(filter, { target: { value: "prod" } });
    await fireEvent.keyDown(filter, { key: "Enter" });
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("the kubeconfig is locked by another program");
    expect(alert.textContent).toContain("kubeconfig.locked");
    expect(filter.value).toBe("prod");
  });

  it("lists namespaces and switches to the chosen one", async () => {
    api.listNamespaces.mockResolvedValue({ names: ["default", "payments", "team-a"], forbidden: false });
    api.useContext.mockResolvedValue({ context: "prod", namespace: "team-a", kubeconfig: "/k" });
    api.status.mockResolvedValue(twoProviders());
    const store = storeWith();
    renderInMain(Clusters, { store });

    await fireEvent.click(row("prod").querySelector(".namespace-button")!);
    const option = await waitFor(() => {
      const el = document.querySelector<HTMLElement>('.namespace-option[data-namespace="team-a"]');
      if (!el) throw new Error("no options yet");
      return el;
    });
    expect(api.listNamespaces).toHaveBeenCalledWith("prod");
    expect(document.getElementById("namespace-input")).toBeNull();
    await expectNoAxeViolations();

    await fireEvent.click(option);
    expect(api.useContext).toHaveBeenCalledWith("prod", "team-a");
    await waitFor(() => expect(store.feedback).toBe("Switched to prod (namespace team-a)."));
    expect(document.querySelector(".ns-picker")).toBeNull();
  });

  it("closes the namespace picker with Escape and returns focus to its button", async () => {
    api.listNamespaces.mockResolvedValue({ names: ["default", "team-a"], forbidden: false });
    renderInMain(Clusters, { store: storeWith() });
    const button = row("staging").querySelector<HTMLElement>(".namespace-button")!;
    await fireEvent.click(button);
    expect(button.getAttribute("aria-expanded")).toBe("true");
    const first = await waitFor(() => {
      const el = document.querySelector<HTMLElement>(".namespace-option");
      if (!el || document.activeElement !== el) throw new Error("first option not focused yet");
      return el;
    });
    // staging's context sets no namespace: kubectl uses `default`, and the picker marks it.
    expect(first.getAttribute("data-namespace")).toBe("default");
    expect(first.getAttribute("aria-current")).toBe("true");
    await fireEvent.keyDown(first, { key: "ArrowDown" });
    expect(document.activeElement?.getAttribute("data-namespace")).toBe("team-a");
    await fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(document.querySelector(".ns-picker")).toBeNull();
    expect(document.activeElement).toBe(button);
    expect(api.useContext).not.toHaveBeenCalled();
  });

  it("offers free text when listing namespaces is forbidden", async () => {
    api.listNamespaces.mockResolvedValue({ names: [], forbidden: true });
    api.useContext.mockResolvedValue({ context: "staging", namespace: "team-b", kubeconfig: "/k" });
    api.status.mockResolvedValue(twoProviders());
    renderInMain(Clusters, { store: storeWith() });

    await fireEvent.click(row("staging").querySelector(".namespace-button")!);
    const input = (await waitFor(() => {
      const el = document.getElementById("namespace-input");
      if (!el) throw new Error("no free text yet");
      return el;
    })) as HTMLInputElement;
    expect(screen.getByText(/may not list namespaces/)).toBeTruthy();
    await expectNoAxeViolations();

    await fireEvent.input(input, { target: { value: "Team B" } });
    await fireEvent.click(document.getElementById("namespace-apply")!);
    expect(api.useContext).not.toHaveBeenCalled();
    expect(screen.getByText(/lower-case letters/)).toBeTruthy();

    await fireEvent.input(input, { target: { value: "team-b" } });
    await fireEvent.click(document.getElementById("namespace-apply")!);
    expect(api.useContext).toHaveBeenCalledWith("staging", "team-b");
  });

  it("says to sign in first when the session is missing, and still offers free text", async () => {
    api.listNamespaces.mockRejectedValue({ code: "session.sign_in_required", message: "sign in to lab" });
    renderInMain(Clusters, { store: storeWith() });
    await fireEvent.click(row("dev").querySelector(".namespace-button")!);
    expect((await screen.findByRole("alert")).textContent).toContain("Sign in to lab first");
    expect(document.getElementById("namespace-input")).not.toBeNull();
  });

  it("signs in and out per provider", async () => {
    api.signIn.mockResolvedValue({ provider: "lab", mode: "browser", alreadyRunning: false });
    api.signOut.mockResolvedValue({ provider: "corp", revocation: "not_offered", detail: null });
    api.status.mockResolvedValue(twoProviders());
    const store = storeWith();
    renderInMain(Clusters, { store });

    await fireEvent.click(document.querySelector('[data-provider="lab"] .sign-in')!);
    expect(api.signIn).toHaveBeenCalledWith("lab");
    await waitFor(() => expect(store.feedback).toMatch(/continue in your browser/));

    await fireEvent.click(document.querySelector('[data-provider="corp"] .sign-out')!);
    expect(api.signOut).toHaveBeenCalledWith("corp");
    await waitFor(() => expect(store.feedback).toMatch(/Signed out of corp/));
  });

  it("shows Signing in… while a sign-in runs, and offers to bring it back", () => {
    const status = twoProviders();
    status.providers[1].signingIn = true;
    renderInMain(Clusters, { store: storeWith(status) });
    expect(document.querySelector('[data-provider="lab"] .provider-state')!.textContent).toBe("Signing in…");
    expect(row("dev").querySelector(".cluster-state")!.textContent).toBe("Signing in…");
    const button = document.querySelector<HTMLButtonElement>('[data-provider="lab"] .sign-in')!;
    expect(button.textContent).toBe("Show sign-in");
    expect(button.disabled).toBe(false);
  });

  it("copies the kubectl command and says so", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const store = storeWith();
    renderInMain(Clusters, { store });
    const button = row("staging").querySelector<HTMLButtonElement>(".copy-command")!;
    await fireEvent.click(button);
    expect(writeText).toHaveBeenCalledWith("kubectl --context staging get pods");
    await waitFor(() => expect(button.textContent).toBe("Copied"));
    expect(store.feedback).toBe("Copied: kubectl --context staging get pods");
  });

  it("opens the kubeconfig location of a row", async () => {
    api.openKubeconfigLocation.mockResolvedValue(null);
    renderInMain(Clusters, { store: storeWith() });
    await fireEvent.click(row("dev").querySelector(".open-location")!);
    expect(api.openKubeconfigLocation).toHaveBeenCalledWith("dev");
  });

  it("shows the welcome choices when there are no providers", async () => {
    const store = storeWith({ providers: [], currentContext: null, configPath: "/c.toml", configError: null });
    renderInMain(Clusters, { store });
    expect(document.getElementById("welcome")).not.toBeNull();
    expect(document.getElementById("filter")).toBeNull();
    await expectNoAxeViolations();

    await fireEvent.click(screen.getByText("Import a team catalog"));
    expect(store.view).toBe("import");
    expect(store.intent).toEqual({ view: "import", kind: "catalog" });
  });
  it("asks before removing a cluster, naming its context and kubeconfig file", async () => {
    const after = configFor(twoProviders());
    after.clusters = after.clusters.filter((c) => c.name !== "staging");
    api.removeCluster.mockResolvedValue(after);
    const status = twoProviders();
    status.providers[0].clusters = status.providers[0].clusters.filter((c) => c.name !== "staging");
    api.status.mockResolvedValue(status);
    const store = storeWith();
    renderInMain(Clusters, { store });

    await fireEvent.click(screen.getByRole("button", { name: "Remove cluster staging" }));
    const dialog = screen.getByRole("dialog");
    expect(dialog.textContent).toContain("Remove cluster staging?");
    expect(dialog.textContent).toContain("staging");
    expect(api.removeCluster).not.toHaveBeenCalled();
    await expectNoAxeViolations();

    await fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(api.removeCluster).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByRole("button", { name: "Remove cluster staging" }));
    await fireEvent.click(document.getElementById("dialog-confirm")!);
    expect(api.removeCluster).toHaveBeenCalledWith("staging");
    await waitFor(() => expect(store.feedback).toBe("Removed cluster staging and its kubeconfig entries."));
    await waitFor(() => expect(document.querySelector('[data-cluster="staging"]')).toBeNull());
    expect(store.config).toEqual(after);
  });

  describe("with a thousand clusters", () => {
    /** 50 providers × 20 clusters, signed out; `cluster-07-03` is current. */
    function thousand() {
      const status = twoProviders();
      status.providers = Array.from({ length: 50 }, (_, p) =>
        provider(`team-${String(p).padStart(2, "0")}`, {
          state: "sign_in_needed",
          account: null,
          expiresAt: null,
          clusters: Array.from({ length: 20 }, (_, c) => {
            const name = `cluster-${String(p).padStart(2, "0")}-${String(c).padStart(2, "0")}`;
            return cluster(name, { current: name === "cluster-07-03", expiresAt: null });
          }),
        }),
      );
      status.currentContext = "cluster-07-03";
      return status;
    }

    /** The scroll area has a layout: a 600-pixel-high viewport (jsdom has none). */
    function withViewport() {
      const original = Object.getOwnPropertyDescriptor(HTMLElement.prototype, "clientHeight");
      Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
      return () => {
        if (original) Object.defineProperty(HTMLElement.prototype, "clientHeight", original);
      };
    }

    const rendered = () => [...document.querySelectorAll("[data-cluster]")].map((r) => r.getAttribute("data-cluster"));

    it("renders only the rows near the viewport and says how many there are", async () => {
      const restore = withViewport();
      try {
        renderInMain(Clusters, { store: storeWith(thousand()) });
        const grid = document.getElementById("cluster-grid")!;
        await waitFor(() => expect(rendered().length).toBeLessThan(60));
        expect(rendered()[0]).toBe("cluster-00-00");
        expect(grid.getAttribute("data-cluster-count")).toBe("1000");
        // 1,000 clusters, 50 provider headers and the column headers.
        expect(grid.getAttribute("aria-rowcount")).toBe("1051");
        expect(row("cluster-00-01").getAttribute("aria-rowindex")).toBe("4");
        await expectNoAxeViolations();
      } finally {
        restore();
      }
    });

    it("keeps ↑/↓ and Enter working: the selected row is always rendered and is the active descendant", async () => {
      const restore = withViewport();
      try {
        api.useContext.mockResolvedValue({ context: "cluster-01-09", namespace: null, kubeconfig: "/k" });
        renderInMain(Clusters, { store: storeWith(thousand()) });
        const filter = document.getElementById("filter")!;
        await waitFor(() => expect(rendered().length).toBeLessThan(60));
        // 29 rows down: past the rendered rows of the first screen.
        for (let i = 0; i < 2; i++) await fireEvent.keyDown(filter, { key: "PageDown" });
        for (let i = 0; i < 9; i++) await fireEvent.keyDown(filter, { key: "ArrowDown" });
        await waitFor(() => expect(row("cluster-01-09").getAttribute("aria-selected")).toBe("true"));
        expect(filter.getAttribute("aria-activedescendant")).toBe(row("cluster-01-09").id);
        await fireEvent.keyDown(filter, { key: "Enter" });
        expect(api.useContext).toHaveBeenCalledWith("cluster-01-09", null);
      } finally {
        restore();
      }
    });

    it("filters the whole list, not only the rendered rows", async () => {
      const restore = withViewport();
      try {
        renderInMain(Clusters, { store: storeWith(thousand()) });
        const filter = document.getElementById("filter") as HTMLInputElement;
        await fireEvent.input(filter, { target: { value: "cluster-49-1" } });
        expect(rendered()).toEqual(Array.from({ length: 10 }, (_, c) => `cluster-49-1${c}`));
        expect(document.getElementById("cluster-grid")!.getAttribute("data-cluster-count")).toBe("10");
        await fireEvent.input(filter, { target: { value: "" } });
        expect(document.getElementById("cluster-grid")!.getAttribute("data-cluster-count")).toBe("1000");
      } finally {
        restore();
      }
    });
  });
});
