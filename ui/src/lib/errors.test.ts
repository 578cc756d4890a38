import { describe, expect, it } from "vitest";
import { isErrorDto, toErrorDto } from "./errors";

describe("ErrorDto", () => {
  it("recognises {code, message}", () => {
    expect(isErrorDto({ code: "a", message: "b" })).toBe(true);
    expect(isErrorDto({ code: "a" })).toBe(false);
    expect(isErrorDto("a")).toBe(false);
    expect(isErrorDto(null)).toBe(false);
  });
  it("keeps ErrorDtos (without extra fields) and wraps anything else as app.internal", () => {
    expect(toErrorDto({ code: "kubeconfig.locked", message: "locked", extra: 1 })).toEqual({ code: "kubeconfig.locked", message: "locked" });
    expect(toErrorDto("command status not found")).toEqual({ code: "app.internal", message: "command status not found" });
    expect(toErrorDto(new Error("boom"))).toEqual({ code: "app.internal", message: "Error: boom" });
  });
});
