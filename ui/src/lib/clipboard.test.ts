import { afterEach, describe, expect, it, vi } from "vitest";
import { copyText } from "./clipboard";

describe("copyText", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    // jsdom has no execCommand; tests define it.
    delete (document as { execCommand?: unknown }).execCommand;
  });

  it("uses the Clipboard API when present", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    expect(await copyText("kubectl --context prod get pods")).toBe(true);
    expect(writeText).toHaveBeenCalledWith("kubectl --context prod get pods");
  });

  it("falls back to a hidden textarea and execCommand when the API refuses", async () => {
    vi.stubGlobal("navigator", { clipboard: { writeText: vi.fn().mockRejectedValue(new Error("denied")) } });
    let copied = "";
    document.execCommand = vi.fn((cmd: string) => {
      copied = cmd === "copy" ? (document.activeElement as HTMLTextAreaElement).value : "";
      return true;
    });
    const button = document.createElement("button");
    document.body.appendChild(button);
    button.focus();
    expect(await copyText("kubectl get pods")).toBe(true);
    expect(copied).toBe("kubectl get pods");
    expect(document.querySelector("textarea")).toBeNull();
    expect(document.activeElement).toBe(button);
    button.remove();
  });

  it("reports failure when neither works", async () => {
    vi.stubGlobal("navigator", {});
    expect(await copyText("x")).toBe(false);
  });
});
