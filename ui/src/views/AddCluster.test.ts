import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { ReviewDto } from "../generated/ReviewDto";
import { api } from "../test/apiMock";
import { expectNoAxeViolations } from "../test/axe";
import { configFor, storeWith, twoProviders } from "../test/fixtures";
import { renderInMain } from "../test/render";
import AddCluster from "./AddCluster.svelte";

vi.mock("../lib/api", () => import("../test/apiMock"));

const el = <T extends HTMLElement = HTMLInputElement>(id: string) => document.getElementById(id) as T;
const type = (id: string, value: string) => fireEvent.input(el(id), { target: { value } });

describe("Add cluster", () => {
  it("saves the cluster, then tests it and shows who the API server sees", async () => {
    const after = configFor(twoProviders());
    api.addCluster.mockResolvedValue(after);
    api.status.mockResolvedValue(twoProviders());
    let finish: (r: ReviewDto) => void = () => {};
    api.testCluster.mockImplementation(() => new Promise<ReviewDto>((r) => (finish = r)));
    const store = storeWith();
    renderInMain(AddCluster, { store });

    await waitFor(() => expect(el<HTMLSelectElement>("cluster-provider").value).toBe("corp"));
    expect(el("cluster-audience").placeholder).toBe("signet");
    expect(el<HTMLButtonElement>("cluster-test").disabled).toBe(true);
    await expectNoAxeViolations();

    await type("cluster-name", "qa");
    await type("cluster-server", "https://api.qa.example.com:6443");
    await type("cluster-namespace", "team-a");
    expect(el("cluster-context").placeholder).toBe("qa");
    await fireEvent.change(el("cluster-credentials"), { target: { value: "token" } });
    await fireEvent.click(el("cluster-save"));

    expect(api.addCluster).toHaveBeenCalledWith({
      name: "qa",
      provider: "corp",
      server: "https://api.qa.example.com:6443",
      caFile: null,
      caData: null,
      insecureSkipTlsVerify: false,
      audience: null,
      context: null,
      namespace: "team-a",
      credentials: "token",
      kubeconfig: null,
    });
    await waitFor(() => expect(el<HTMLButtonElement>("cluster-test").disabled).toBe(false));
    expect(store.config).toEqual(after);

    await fireEvent.click(el("cluster-test"));
    expect(api.testCluster).toHaveBeenCalledWith("qa");
    await waitFor(() => expect(el("cluster-test-result").textContent).toContain("Testing qa"));
    finish({ username: "alice@example.com", groups: ["devs", "sre"] });
    await waitFor(() => expect(el("cluster-test-result").textContent).toContain("Signed in as alice@example.com (groups devs, sre)"));
  });

  it("does not save with errors, and shows them", async () => {
    renderInMain(AddCluster, { store: storeWith() });
    await type("cluster-server", "http://api.example.com");
    await fireEvent.click(el("cluster-save"));
    expect(api.addCluster).not.toHaveBeenCalled();
    expect(screen.getByText("Required.")).toBeTruthy();
    expect(screen.getByText(/Use https/)).toBeTruthy();
  });

  it("checks the connection and shows the server version", async () => {
    api.probeServer.mockResolvedValue({ version: "v1.31.2", authRequired: true });
    renderInMain(AddCluster, { store: storeWith() });
    expect(el<HTMLButtonElement>("cluster-probe").disabled).toBe(true);
    await type("cluster-server", "https://api.qa.example.com:6443");
    await fireEvent.input(el("cluster-ca-file"), { target: { value: "/etc/qa-ca.pem" } });
    await fireEvent.click(el("cluster-probe"));
    expect(api.probeServer).toHaveBeenCalledWith("https://api.qa.example.com:6443", "/etc/qa-ca.pem", null, false);
    await waitFor(() => expect(el("cluster-probe-result").textContent).toContain("TLS OK · Kubernetes v1.31.2"));
  });

  it("shows a failed connection check with its code", async () => {
    api.probeServer.mockRejectedValue({ code: "tls.unknown_authority", message: "the server's certificate is not signed by the given CA" });
    renderInMain(AddCluster, { store: storeWith() });
    await type("cluster-server", "https://api.qa.example.com:6443");
    await fireEvent.click(el("cluster-probe"));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("tls.unknown_authority");
    await expectNoAxeViolations();
  });

  it("asks for a provider first when there is none", () => {
    renderInMain(AddCluster, { store: storeWith({ providers: [], currentContext: null, configPath: "/c", configError: null }) });
    expect(screen.getByText(/Add one first/)).toBeTruthy();
    expect(el<HTMLButtonElement>("cluster-save").disabled).toBe(true);
  });
});
