import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { api } from "../test/apiMock";
import { expectNoAxeViolations } from "../test/axe";
import { configFor, preview, storeWith, twoProviders } from "../test/fixtures";
import { renderInMain } from "../test/render";
import Import from "./Import.svelte";

vi.mock("../lib/api", () => import("../test/apiMock"));

const plan = () => document.getElementById("import-plan");

describe("Import", () => {
  it("previews a kubeconfig import before anything changes, then applies exactly that source", async () => {
    api.importPreview.mockResolvedValue(preview());
    api.importApply.mockResolvedValue({
      configSaved: "/home/alice/.config/signet/config.toml",
      adopted: ["prod"],
      entriesWritten: ["staging"],
      backups: ["/home/alice/.kube/config.signet-backup"],
      signIn: ["corp"],
    });
    api.signIn.mockResolvedValue({ provider: "corp", mode: "embedded", alreadyRunning: false });
    api.config.mockResolvedValue(configFor(twoProviders()));
    api.status.mockResolvedValue(twoProviders());
    const store = storeWith();
    renderInMain(Import, { store });

    expect((document.querySelector('input[name="import-kind"][value="kubeconfig"]') as HTMLInputElement).checked).toBe(true);
    await fireEvent.input(document.getElementById("import-path")!, { target: { value: "/home/alice/.kube/config" } });
    await fireEvent.click(document.getElementById("import-preview")!);
    expect(api.importPreview).toHaveBeenCalledWith({ kind: "kubeconfig", path: "/home/alice/.kube/config" });

    await waitFor(() => expect(plan()).not.toBeNull());
    expect(api.importApply).not.toHaveBeenCalled();
    expect(plan()!.textContent).toContain("Will add 1 provider, 2 clusters, 1 context adopted");
    expect(plan()!.textContent).toContain("kubelogin oidc-login (user oidc)");
    expect(plan()!.textContent).toContain("minikube: not an OIDC user");
    expect(plan()!.textContent).toContain("/home/alice/.config/signet/config.toml");
    await expectNoAxeViolations();

    await fireEvent.click(document.getElementById("import-apply")!);
    expect(api.importApply).toHaveBeenCalledWith({ kind: "kubeconfig", path: "/home/alice/.kube/config" }, []);
    const result = await waitFor(() => {
      const el = document.getElementById("import-result");
      if (!el) throw new Error("no result yet");
      return el;
    });
    expect(result.textContent).toContain("/home/alice/.kube/config.signet-backup");
    expect(plan()).toBeNull();
    await expectNoAxeViolations();

    await fireEvent.click(result.querySelector('[data-provider="corp"] .sign-in')!);
    expect(api.signIn).toHaveBeenCalledWith("corp");
  });

  it("says nothing to import for an empty preview and offers no Apply", async () => {
    api.importPreview.mockResolvedValue(preview({ empty: true, providers: [], clusters: [], adoptions: [], newEntries: [], skipped: [] }));
    renderInMain(Import, { store: storeWith() });
    await fireEvent.click(document.getElementById("import-preview")!);
    await waitFor(() => expect(plan()).not.toBeNull());
    expect(plan()!.textContent).toContain("Nothing to import");
    expect(document.getElementById("import-apply")).toBeNull();
  });

  it("previews a catalog URL, and hides the plan once the source changes", async () => {
    api.importPreview.mockResolvedValue(preview());
    const store = storeWith();
    store.navigate("import", { view: "import", kind: "catalog" });
    renderInMain(Import, { store });
    const location = document.getElementById("import-location") as HTMLInputElement;
    expect(location).not.toBeNull();

    await fireEvent.click(document.getElementById("import-preview")!);
    expect(api.importPreview).not.toHaveBeenCalled();
    expect(screen.getByText(/Enter a catalog file path/)).toBeTruthy();

    await fireEvent.input(location, { target: { value: "https://platform.example.com/signet.toml" } });
    await fireEvent.click(document.getElementById("import-preview")!);
    expect(api.importPreview).toHaveBeenCalledWith({ kind: "catalog", location: "https://platform.example.com/signet.toml" });
    await waitFor(() => expect(plan()).not.toBeNull());

    await fireEvent.input(location, { target: { value: "https://platform.example.com/other.toml" } });
    expect(plan()).toBeNull();
  });

  it("asks for an explicit, red confirmation naming the clusters that skip TLS verification before Apply", async () => {
    api.importPreview.mockResolvedValue(preview({ insecure: ["ci", "lab"] }));
    api.importApply.mockResolvedValue({ configSaved: null, adopted: [], entriesWritten: [], backups: [], signIn: [] });
    const store = storeWith();
    store.navigate("import", { view: "import", kind: "catalog" });
    renderInMain(Import, { store });
    await fireEvent.input(document.getElementById("import-location")!, { target: { value: "https://platform.example.com/signet.toml" } });
    await fireEvent.click(document.getElementById("import-preview")!);
    await waitFor(() => expect(plan()).not.toBeNull());

    const warning = document.getElementById("import-insecure");
    expect(warning, "a TLS warning is shown").not.toBeNull();
    expect(warning!.classList.contains("danger-box")).toBe(true);
    expect(warning!.textContent).toContain("ci, lab");
    const consent = document.getElementById("import-insecure-consent") as HTMLInputElement;
    expect(consent.checked).toBe(false);
    const applyButton = document.getElementById("import-apply") as HTMLButtonElement;
    expect(applyButton.disabled, "Apply waits for the confirmation").toBe(true);
    await expectNoAxeViolations();

    await fireEvent.click(consent);
    expect(applyButton.disabled).toBe(false);
    await fireEvent.click(applyButton);
    expect(api.importApply).toHaveBeenCalledWith(
      { kind: "catalog", location: "https://platform.example.com/signet.toml" },
      ["ci", "lab"],
    );
  });

  it("shows a preview failure and keeps the location", async () => {
    api.importPreview.mockRejectedValue({ code: "catalog.fetch_failed", message: "HTTP 404 from the catalog URL" });
    const store = storeWith();
    store.navigate("import", { view: "import", kind: "catalog" });
    renderInMain(Import, { store });
    const location = document.getElementById("import-location") as HTMLInputElement;
    await fireEvent.input(location, { target: { value: "https://platform.example.com/missing.toml" } });
    await fireEvent.click(document.getElementById("import-preview")!);
    expect((await screen.findByRole("alert")).textContent).toContain("catalog.fetch_failed");
    expect(location.value).toBe("https://platform.example.com/missing.toml");
  });
});
