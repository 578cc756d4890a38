import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { DiscoveryDto } from "../generated/DiscoveryDto";
import { api } from "../test/apiMock";
import { expectNoAxeViolations } from "../test/axe";
import { configFor, dexDiscovery, storeWith, twoProviders } from "../test/fixtures";
import { renderInMain } from "../test/render";
import Providers from "./Providers.svelte";

vi.mock("../lib/api", () => import("../test/apiMock"));

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

const input = (id: string) => document.getElementById(id) as HTMLInputElement;
const saveButton = () => document.getElementById("provider-save") as HTMLButtonElement;
const discovery = () => document.getElementById("discovery");

async function type(id: string, value: string) {
  await fireEvent.input(input(id), { target: { value } });
}

async function openAddForm() {
  const store = storeWith();
  renderInMain(Providers, { store, discoveryDelay: 0 });
  await fireEvent.click(document.getElementById("provider-add")!);
  return store;
}

describe("Providers", () => {
  it("lists the configured providers with their state", async () => {
    renderInMain(Providers, { store: storeWith() });
    const corp = document.querySelector('[data-provider="corp"]')!;
    expect(corp.textContent).toContain("https://dex.corp.example.com");
    expect(corp.textContent).toContain("Signed in as alice@example.com");
    expect(corp.textContent).toContain("2 clusters");
    await expectNoAxeViolations();
  });

  it("enables Save only after discovery succeeded for the issuer shown", async () => {
    let answer: (d: DiscoveryDto) => void = () => {};
    api.discover.mockImplementation(() => new Promise<DiscoveryDto>((resolve) => (answer = resolve)));
    await openAddForm();

    await type("provider-name", "corp2");
    await type("provider-client-id", "signet");
    expect(saveButton().disabled).toBe(true);
    expect(discovery()).toBeNull();

    await type("provider-issuer", "https://dex.example.com");
    await waitFor(() => expect(discovery()?.dataset.status).toBe("loading"));
    await waitFor(() => expect(api.discover).toHaveBeenCalledWith("https://dex.example.com", null, null));
    expect(saveButton().disabled).toBe(true);

    answer(dexDiscovery());
    await waitFor(() => expect(discovery()?.dataset.status).toBe("ok"));
    expect(discovery()!.textContent).toContain("Looks like Dex");
    expect(discovery()!.textContent).toContain("https://dex.example.com/token");
    expect(discovery()!.textContent).toMatch(/Revocation\s*none/);
    expect(saveButton().disabled).toBe(false);
    await expectNoAxeViolations();

    // Changing the issuer invalidates the earlier discovery until the new answer is in.
    await type("provider-issuer", "https://dex2.example.com");
    expect(saveButton().disabled).toBe(true);
  });

  it("ignores a stale discovery answer for an older issuer", async () => {
    const pending: Record<string, (d: DiscoveryDto) => void> = {};
    api.discover.mockImplementation((issuer: string) => new Promise<DiscoveryDto>((resolve) => (pending[issuer] = resolve)));
    await openAddForm();
    await type("provider-name", "x");
    await type("provider-client-id", "signet");

    await type("provider-issuer", "https://old.example.com");
    await waitFor(() => expect(pending["https://old.example.com"]).toBeDefined());
    await type("provider-issuer", "https://new.example.com");
    await waitFor(() => expect(pending["https://new.example.com"]).toBeDefined());

    pending["https://old.example.com"](dexDiscovery("https://old.example.com"));
    await new Promise((r) => setTimeout(r, 20));
    expect(discovery()?.dataset.status).toBe("loading");
    expect(saveButton().disabled).toBe(true);

    pending["https://new.example.com"](dexDiscovery("https://new.example.com"));
    await waitFor(() => expect(discovery()?.dataset.status).toBe("ok"));
    expect(discovery()!.textContent).toContain("https://new.example.com/auth");
  });

  it("shows a discovery failure with its code and keeps Save disabled", async () => {
    api.discover.mockRejectedValue({ code: "oidc.discovery_failed", message: "no discovery document at https://dex.example.com" });
    await openAddForm();
    await type("provider-name", "corp2");
    await type("provider-client-id", "signet");
    await type("provider-issuer", "https://dex.example.com");
    await waitFor(() => expect(discovery()?.dataset.status).toBe("error"));
    const alert = discovery()!.querySelector('[role="alert"]')!;
    expect(alert.textContent).toContain("oidc.discovery_failed");
    expect(saveButton().disabled).toBe(true);
    await expectNoAxeViolations();
  });

  it("saves the provider with pasted PEM as base64 caData, then closes the form", async () => {
    api.discover.mockResolvedValue(dexDiscovery());
    const saved = configFor(twoProviders());
    api.saveProvider.mockResolvedValue(saved);
    api.status.mockResolvedValue(twoProviders());
    const store = await openAddForm();

    await type("provider-name", "corp2");
    await type("provider-issuer", "https://dex.example.com");
    await type("provider-client-id", "signet");
    await type("provider-connector", "github");
    await type("provider-scopes", "groups profile");
    await fireEvent.input(document.getElementById("provider-ca-pem")!, { target: { value: PEM } });
    await fireEvent.click(document.querySelector('input[name="login-mode"][value="browser"]')!);
    await waitFor(() => expect(saveButton().disabled).toBe(false));
    expect(api.discover).toHaveBeenLastCalledWith("https://dex.example.com", null, btoa(PEM));

    await fireEvent.click(saveButton());
    expect(api.saveProvider).toHaveBeenCalledWith({
      name: "corp2",
      issuer: "https://dex.example.com",
      clientId: "signet",
      connector: "github",
      scopes: ["groups", "profile"],
      caFile: null,
      caData: btoa(PEM),
      login: "browser",
    });
    await waitFor(() => expect(screen.getByText("Saved provider corp2.")).toBeTruthy());
    expect(store.config).toEqual(saved);
    expect(document.getElementById("provider-name")).toBeNull();
  });

  it("keeps what was typed when saving fails", async () => {
    api.discover.mockResolvedValue(dexDiscovery());
    api.saveProvider.mockRejectedValue({ code: "config.invalid", message: "issuer does not match discovery" });
    await openAddForm();
    await type("provider-name", "corp2");
    await type("provider-issuer", "https://dex.example.com");
    await type("provider-client-id", "signet");
    await waitFor(() => expect(saveButton().disabled).toBe(false));
    await fireEvent.click(saveButton());
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("config.invalid");
    expect(input("provider-name").value).toBe("corp2");
    expect(input("provider-issuer").value).toBe("https://dex.example.com");
  });

  it("edits a provider with its name fixed", async () => {
    api.discover.mockResolvedValue(dexDiscovery("https://dex.corp.example.com"));
    renderInMain(Providers, { store: storeWith(), discoveryDelay: 0 });
    await fireEvent.click(screen.getByRole("button", { name: "Edit corp" }));
    expect(input("provider-name").value).toBe("corp");
    expect(input("provider-name").readOnly).toBe(true);
    expect(input("provider-scopes").value).toBe("groups");
    await waitFor(() => expect(saveButton().disabled).toBe(false));
  });

  it("asks before removing, naming the clusters that go", async () => {
    const after = configFor(twoProviders());
    after.providers = after.providers.filter((p) => p.name !== "corp");
    after.clusters = after.clusters.filter((c) => c.provider !== "corp");
    api.removeProvider.mockResolvedValue(after);
    const status = twoProviders();
    status.providers.shift();
    api.status.mockResolvedValue(status);
    api.config.mockResolvedValue(after);
    const store = storeWith();
    renderInMain(Providers, { store });

    await fireEvent.click(screen.getByRole("button", { name: "Remove corp" }));
    const dialog = screen.getByRole("dialog");
    expect(dialog.textContent).toContain("Remove provider corp?");
    expect([...dialog.querySelectorAll(".remove-list li")].map((li) => li.textContent)).toEqual(["prod", "staging"]);
    expect(document.activeElement?.id).toBe("dialog-cancel");
    expect(api.removeProvider).not.toHaveBeenCalled();
    await expectNoAxeViolations();

    await fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(api.removeProvider).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByRole("button", { name: "Remove corp" }));
    await fireEvent.click(document.getElementById("dialog-confirm")!);
    expect(api.removeProvider).toHaveBeenCalledWith("corp");
    await waitFor(() => expect(document.querySelector('[data-provider="corp"]')).toBeNull());
    expect(store.config).toEqual(after);
  });

  it("opens the add form when arriving from the welcome screen", () => {
    const store = storeWith();
    store.navigate("providers", { view: "providers", action: "add" });
    renderInMain(Providers, { store });
    expect(document.getElementById("provider-name")).not.toBeNull();
  });
});
