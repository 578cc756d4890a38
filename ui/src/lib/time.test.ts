import { describe, expect, it } from "vitest";
import { NOW, inMinutes } from "../test/fixtures";
import { expiryText, formatTimestamp, roughDuration } from "./time";

describe("roughDuration", () => {
  it.each([
    [30_000, "under a minute"],
    [60_000, "1 min"],
    [12 * 60_000 + 59_000, "12 min"],
    [60 * 60_000, "1 h"],
    [125 * 60_000, "2 h 5 min"],
    [3 * 24 * 60 * 60_000 + 5, "3 d"],
  ])("%i ms → %s", (ms, text) => {
    expect(roughDuration(ms)).toBe(text);
  });
});

describe("expiryText", () => {
  it("says how long is left", () => {
    expect(expiryText(inMinutes(12), NOW)).toBe("expires in 12 min");
    expect(expiryText(inMinutes(0.5), NOW)).toBe("expires in under a minute");
  });
  it("says how long ago it expired", () => {
    expect(expiryText(inMinutes(-0.5), NOW)).toBe("expired just now");
    expect(expiryText(inMinutes(-90), NOW)).toBe("expired 1 h 30 min ago");
  });
  it("is null when unknown or unparsable", () => {
    expect(expiryText(null, NOW)).toBeNull();
    expect(expiryText("soon", NOW)).toBeNull();
  });
});

describe("formatTimestamp", () => {
  it("shows only the time for today", () => {
    const at = new Date(NOW - 60_000);
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(formatTimestamp(at.toISOString(), NOW)).toBe(`${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`);
  });
  it("shows the date for other days", () => {
    expect(formatTimestamp(new Date(NOW - 3 * 86_400_000).toISOString(), NOW)).toMatch(/^\d{1,2} Mar \d\d:\d\d$/);
  });
  it("shows the year for other years", () => {
    expect(formatTimestamp("2023-07-01T12:00:00Z", NOW)).toMatch(/ 2023 /);
  });
  it("returns unparsable text as is", () => {
    expect(formatTimestamp("yesterday", NOW)).toBe("yesterday");
  });
});
