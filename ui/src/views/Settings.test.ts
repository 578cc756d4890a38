import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { api } from "../test/apiMock";
import { expectNoAxeViolations } from "../test/axe";
import { storeWith } from "../test/fixtures";
import { renderInMain } from "../test/render";
import Settings from "./Settings.svelte";

vi.mock("../lib/api", () => import("../test/apiMock"));

const el = <T extends HTMLElement = HTMLInputElement>(id: string) => document.getElementById(id) as T;

describe("Settings", () => {
  it("saves the edited settings", async () => {
    api.saveSettings.mockImplementation(async ({ ...s }) => s);
    const store = storeWith();
    renderInMain(Settings, { store });
    await waitFor(() => expect(el("settings-warning-minutes").value).toBe("10"));
    await expectNoAxeViolations();

    await fireEvent.click(el("settings-start-at-login"));
    await fireEvent.input(el("settings-warning-minutes"), { target: { value: "15" } });
    await fireEvent.input(el("settings-default-kubeconfig"), { target: { value: " ~/.kube/signet " } });
    await fireEvent.change(el("settings-default-credentials"), { target: { value: "token" } });
    expect(el<HTMLInputElement>("settings-forward-without-asking").disabled).toBe(true);
    await fireEvent.click(el("settings-allow-forwarding"));
    expect(el<HTMLInputElement>("settings-forward-without-asking").disabled).toBe(false);
    await fireEvent.click(el("settings-save"));

    expect(api.saveSettings).toHaveBeenCalledWith({
      startAtLogin: false,
      notifications: true,
      warningMinutes: 15,
      defaultKubeconfig: "~/.kube/signet",
      defaultCredentials: "token",
      allowForwarding: true,
      forwardWithoutAsking: false,
    });
    await waitFor(() => expect(screen.getByText("Settings saved.")).toBeTruthy());
    expect(store.config?.settings.defaultCredentials).toBe("token");
  });

  it("refuses a warning window outside 1–120 minutes", async () => {
    renderInMain(Settings, { store: storeWith() });
    await waitFor(() => expect(el("settings-warning-minutes")).not.toBeNull());
    await fireEvent.input(el("settings-warning-minutes"), { target: { value: "500" } });
    expect(el<HTMLButtonElement>("settings-save").disabled).toBe(true);
    expect(screen.getByText(/1 to 120/)).toBeTruthy();
  });

  it("shows a save failure and keeps the edits", async () => {
    api.saveSettings.mockRejectedValue({ code: "config.write_failed", message: "could not write config.toml" });
    renderInMain(Settings, { store: storeWith() });
    await waitFor(() => expect(el("settings-warning-minutes")).not.toBeNull());
    await fireEvent.input(el("settings-warning-minutes"), { target: { value: "30" } });
    await fireEvent.click(el("settings-save"));
    expect((await screen.findByRole("alert")).textContent).toContain("config.write_failed");
    expect(el("settings-warning-minutes").value).toBe("30");
  });
});
