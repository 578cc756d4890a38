import { screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { api } from "../test/apiMock";
import { expectNoAxeViolations } from "../test/axe";
import { storeWith } from "../test/fixtures";
import { renderInMain } from "../test/render";
import Activity from "./Activity.svelte";

vi.mock("../lib/api", () => import("../test/apiMock"));

describe("Activity", () => {
  it("lists entries newest first and adds new ones from events", async () => {
    api.activity.mockResolvedValue([
      { at: "2025-03-12T09:58:00Z", provider: "corp", kind: "failed", message: "refresh rejected: sign in again", code: "session.sign_in_required" },
      { at: "2025-03-12T09:00:00Z", provider: "corp", kind: "signed_in", message: "signed in as alice@example.com", code: null },
    ]);
    const store = storeWith();
    renderInMain(Activity, { store });
    await waitFor(() => expect(document.querySelectorAll(".activity-entry")).toHaveLength(2));
    const first = document.querySelector(".activity-entry")!;
    expect(first.textContent).toContain("Failed");
    expect(first.textContent).toContain("session.sign_in_required");
    await expectNoAxeViolations();

    store.addActivity({ at: "2025-03-12T09:59:00Z", provider: null, kind: "context_switched", message: "current context: prod", code: null });
    await waitFor(() => expect(document.querySelectorAll(".activity-entry")).toHaveLength(3));
    expect(document.querySelector(".activity-entry")!.textContent).toContain("Context switched");
  });

  it("says when there is nothing yet", async () => {
    api.activity.mockResolvedValue([]);
    renderInMain(Activity, { store: storeWith() });
    expect(await screen.findByText(/Nothing yet/)).toBeTruthy();
  });
});
