import { describe, expect, it } from "vitest";
import { account, cluster, inMinutes, NOW, provider } from "../test/fixtures";
import {
  accountLabel,
  clusterStateText,
  headerActions,
  providerStateText,
  signedOutText,
  signInOutcomeText,
  signInStartedText,
} from "./providerState";

describe("providerStateText", () => {
  it("names the account and the expiry when signed in", () => {
    expect(providerStateText(provider("corp"), NOW)).toBe("Signed in as alice@example.com · expires in 12 min");
  });
  it("falls back to the name, then the subject", () => {
    expect(accountLabel(account({ email: null }))).toBe("Alice");
    expect(accountLabel(account({ email: null, name: null }))).toBe("Cg1hbGljZQ");
    expect(accountLabel(null)).toBeNull();
  });
  it("asks to sign in again soon when expiring", () => {
    const p = provider("corp", { state: "expiring", expiresAt: inMinutes(4) });
    expect(providerStateText(p, NOW)).toBe("Signed in as alice@example.com · expires in 4 min · sign in again soon");
  });
  it("says sign-in needed", () => {
    expect(providerStateText(provider("corp", { state: "sign_in_needed", account: null }), NOW)).toBe("Sign-in needed");
  });
  it("shows the error message with its code", () => {
    const p = provider("corp", { state: "error", lastError: { code: "oidc.discovery_failed", message: "dex is unreachable" } });
    expect(providerStateText(p, NOW)).toBe("dex is unreachable (oidc.discovery_failed)");
  });
  it("prefers signing in over any state", () => {
    expect(providerStateText(provider("corp", { state: "error", signingIn: true }), NOW)).toBe("Signing in…");
  });
});

describe("clusterStateText", () => {
  it("uses the cluster's own expiry", () => {
    expect(clusterStateText(provider("corp"), cluster("prod", { expiresAt: inMinutes(3) }), NOW)).toBe("Signed in · expires in 3 min");
    expect(clusterStateText(provider("corp"), cluster("prod", { expiresAt: null }), NOW)).toBe("Signed in");
  });
  it("follows the provider when signed out", () => {
    expect(clusterStateText(provider("corp", { state: "sign_in_needed" }), cluster("prod"), NOW)).toBe("Sign-in needed");
  });
});

describe("headerActions", () => {
  it("offers sign out when signed in, both when expiring, sign in otherwise", () => {
    expect(headerActions(provider("a"))).toEqual({ signIn: false, signOut: true });
    expect(headerActions(provider("a", { state: "expiring" }))).toEqual({ signIn: true, signOut: true });
    expect(headerActions(provider("a", { state: "sign_in_needed", account: null }))).toEqual({ signIn: true, signOut: false });
    expect(headerActions(provider("a", { state: "error", account: null }))).toEqual({ signIn: true, signOut: false });
  });
});

describe("sign-in and sign-out messages", () => {
  it("tells where the sign-in continues", () => {
    expect(signInStartedText({ provider: "corp", mode: "browser", alreadyRunning: false })).toMatch(/browser/);
    expect(signInStartedText({ provider: "corp", mode: "embedded", alreadyRunning: true })).toMatch(/already running/);
  });
  it("tells the outcome of a sign-in: who, or why not", () => {
    expect(signInOutcomeText(provider("corp"))).toBe("Signed in to corp as alice@example.com.");
    expect(signInOutcomeText(provider("corp", { state: "sign_in_needed", account: null }))).toBe("Sign-in to corp did not finish.");
    expect(
      signInOutcomeText(provider("corp", { state: "error", account: null, lastError: { code: "oidc.denied", message: "access denied" } })),
    ).toBe("Sign-in to corp failed: access denied");
  });
  it("tells whether the provider revoked the session", () => {
    expect(signedOutText({ provider: "corp", revocation: "revoked", detail: null })).toMatch(/revoked at the provider/);
    expect(signedOutText({ provider: "corp", revocation: "not_offered", detail: null })).toMatch(/offers no revocation/);
    expect(signedOutText({ provider: "corp", revocation: "failed", detail: "timeout" })).toMatch(/revocation failed: timeout/);
  });
});
