import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { StatusDto } from "./generated/StatusDto";
import { api } from "./test/apiMock";
import { expectNoAxeViolations } from "./test/axe";
import { configFor, NOW, twoProviders } from "./test/fixtures";
import { AppStore } from "./lib/store.svelte";
import App from "./App.svelte";

vi.mock("./lib/api", () => import("./test/apiMock"));

function start(status: StatusDto = twoProviders()) {
  let push: (s: StatusDto) => void = () => {};
  const unlisten = vi.fn();
  api.onStatusChanged.mockImplementation(async (h: (s: StatusDto) => void) => ((push = h), unlisten));
  api.onActivity.mockResolvedValue(unlisten);
  api.status.mockResolvedValue(status);
  api.config.mockResolvedValue(configFor(status));
  const store = new AppStore();
  store.now = NOW;
  const view = render(App, { props: { store } });
  return { store, view, unlisten, push: (s: StatusDto) => push(s) };
}

const main = () => document.querySelector("main")!;

describe("App", () => {
  it("marks itself ready once the first status is in, and shows the current context", async () => {
    start();
    await waitFor(() => expect(main().dataset.ready).toBe("true"));
    expect(document.getElementById("status-line")!.textContent).toContain("Current context: prod");
    expect(document.getElementById("nav-clusters")!.getAttribute("aria-current")).toBe("page");
    await expectNoAxeViolations();
  });

  it("updates from status events without polling", async () => {
    const { push } = start();
    await waitFor(() => expect(main().dataset.ready).toBe("true"));
    const changed = twoProviders();
    changed.providers[1].state = "signed_in";
    changed.currentContext = "dev";
    changed.providers[0].clusters[0].current = false;
    changed.providers[1].clusters[0].current = true;
    push(changed);
    await waitFor(() => expect(document.querySelector('[data-cluster="dev"]')!.getAttribute("data-state")).toBe("signed_in"));
    expect(document.querySelector('[data-cluster="dev"] .current-mark')).not.toBeNull();
    expect(document.getElementById("status-line")!.textContent).toContain("Current context: dev");
    expect(api.status).toHaveBeenCalledTimes(1);
  });

  it("navigates with the nav buttons", async () => {
    api.activity.mockResolvedValue([]);
    start();
    await waitFor(() => expect(main().dataset.ready).toBe("true"));
    for (const [id, heading] of [
      ["nav-providers", "Providers"],
      ["nav-add-cluster", "Add a cluster"],
      ["nav-import", "Import"],
      ["nav-activity", "Activity"],
      ["nav-settings", "Settings"],
      ["nav-clusters", "Clusters"],
    ]) {
      await fireEvent.click(document.getElementById(id)!);
      expect(document.getElementById(id)!.getAttribute("aria-current")).toBe("page");
      expect(screen.getByRole("heading", { level: 1 }).textContent).toBe(heading);
    }
  });

  it("shows a configuration error prominently, next to the welcome", async () => {
    start({
      providers: [],
      currentContext: null,
      configPath: "/home/alice/.config/signet/config.toml",
      configError: { code: "config.invalid", message: "unknown key `isuer` at line 3" },
    });
    await waitFor(() => expect(main().dataset.ready).toBe("true"));
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("unknown key `isuer` at line 3");
    expect(alert.textContent).toContain("config.invalid");
    expect(alert.textContent).toContain("/home/alice/.config/signet/config.toml");
    expect(document.getElementById("welcome")).not.toBeNull();
    await expectNoAxeViolations();
  });

  it("reports a failed first load and can retry", async () => {
    api.onStatusChanged.mockResolvedValue(() => {});
    api.onActivity.mockResolvedValue(() => {});
    api.status.mockRejectedValueOnce({ code: "app.internal", message: "state not ready" }).mockResolvedValue(twoProviders());
    api.config.mockResolvedValue(configFor(twoProviders()));
    render(App, { props: { store: new AppStore() } });
    await waitFor(() => expect(main().dataset.ready).toBe("error"));
    expect(screen.getByRole("alert").textContent).toContain("state not ready");
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(main().dataset.ready).toBe("true"));
  });

  it("stops listening when closed", async () => {
    const { view, unlisten } = start();
    await waitFor(() => expect(main().dataset.ready).toBe("true"));
    view.unmount();
    expect(unlisten).toHaveBeenCalledTimes(2);
  });
});
