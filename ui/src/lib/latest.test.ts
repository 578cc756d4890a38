import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { debouncedLatest } from "./latest";

describe("debouncedLatest", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("waits for the pause, then requests only the last input", async () => {
    const request = vi.fn(async (s: string) => s.toUpperCase());
    const onResult = vi.fn();
    const r = debouncedLatest(request, 400, { onResult, onError: vi.fn() });
    r.run("h");
    r.run("ht");
    await vi.advanceTimersByTimeAsync(399);
    expect(request).not.toHaveBeenCalled();
    r.run("https");
    await vi.advanceTimersByTimeAsync(400);
    expect(request).toHaveBeenCalledTimes(1);
    expect(request).toHaveBeenCalledWith("https");
    expect(onResult).toHaveBeenCalledWith("HTTPS");
  });

  it("drops a slow answer to an older input", async () => {
    const resolvers: Record<string, (v: string) => void> = {};
    const request = (s: string) => new Promise<string>((resolve) => (resolvers[s] = resolve));
    const onResult = vi.fn();
    const r = debouncedLatest(request, 10, { onResult, onError: vi.fn() });
    r.run("old");
    await vi.advanceTimersByTimeAsync(10);
    r.run("new");
    await vi.advanceTimersByTimeAsync(10);
    resolvers.new("new answer");
    resolvers.old("old answer");
    await vi.runAllTimersAsync();
    expect(onResult.mock.calls).toEqual([["new answer"]]);
  });

  it("reports errors of the latest request and nothing after cancel", async () => {
    const onError = vi.fn();
    const onResult = vi.fn();
    const r = debouncedLatest(async (s: string) => Promise.reject(new Error(s)), 10, { onResult, onError });
    r.run("boom");
    await vi.advanceTimersByTimeAsync(10);
    expect(onError).toHaveBeenCalledTimes(1);
    r.run("again");
    r.cancel();
    await vi.advanceTimersByTimeAsync(100);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onResult).not.toHaveBeenCalled();
  });
});
