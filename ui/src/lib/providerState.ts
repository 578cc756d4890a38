// What a provider header and a cluster row say about the session: the one wording for state.
import type { AccountDto } from "../generated/AccountDto";
import type { ClusterDto } from "../generated/ClusterDto";
import type { ProviderDto } from "../generated/ProviderDto";
import type { ProviderState } from "../generated/ProviderState";
import type { SignedOut } from "../generated/SignedOut";
import type { SignInStarted } from "../generated/SignInStarted";
import { expiryText } from "./time";

/** The best name for the signed-in person: email, else name, else subject. */
export function accountLabel(account: AccountDto | null): string | null {
  if (!account) return null;
  return account.email ?? account.name ?? account.subject;
}

export const STATE_LABEL: Record<ProviderState, string> = {
  signed_in: "Signed in",
  expiring: "Expiring",
  sign_in_needed: "Sign-in needed",
  error: "Error",
};

/** The provider header line, e.g. "Signed in as alice@example.com · expires in 12 min". */
export function providerStateText(p: ProviderDto, now: number): string {
  if (p.signingIn) return "Signing in…";
  switch (p.state) {
    case "signed_in":
    case "expiring": {
      const who = accountLabel(p.account);
      const head = who ? `Signed in as ${who}` : "Signed in";
      const expiry = expiryText(p.expiresAt, now);
      const tail = p.state === "expiring" ? " · sign in again soon" : "";
      return (expiry ? `${head} · ${expiry}` : head) + tail;
    }
    case "sign_in_needed":
      return "Sign-in needed";
    case "error":
      return p.lastError ? `${p.lastError.message} (${p.lastError.code})` : "Sign-in failed";
  }
}

/** The state of one cluster row: a label and, when known, when its token expires. */
export function clusterState(p: ProviderDto, c: ClusterDto, now: number): { label: string; detail: string | null } {
  if (p.signingIn) return { label: "Signing in…", detail: null };
  switch (p.state) {
    case "signed_in":
    case "expiring":
      return { label: STATE_LABEL[p.state], detail: expiryText(c.expiresAt, now) };
    default:
      return { label: STATE_LABEL[p.state], detail: null };
  }
}

/** The same as one line: "Signed in · expires in 12 min". */
export function clusterStateText(p: ProviderDto, c: ClusterDto, now: number): string {
  const { label, detail } = clusterState(p, c, now);
  return detail ? `${label} · ${detail}` : label;
}

/**
 * Which buttons a provider header shows: "Sign in" when the session is missing, failing or about to
 * end without refresh; "Sign out" whenever someone is signed in (both while expiring).
 */
export function headerActions(p: ProviderDto): { signIn: boolean; signOut: boolean } {
  return {
    signIn: p.state !== "signed_in" || p.account === null,
    signOut: p.account !== null,
  };
}

/** What the status line says once a sign-in has started (its outcome arrives as a status change). */
export function signInStartedText(r: SignInStarted): string {
  if (r.alreadyRunning) return `A sign-in to ${r.provider} is already running; its window was brought to the front.`;
  switch (r.mode) {
    case "embedded":
      return `Signing in to ${r.provider} in the login window…`;
    case "browser":
      return `Signing in to ${r.provider}: continue in your browser…`;
    case "device":
      return `Signing in to ${r.provider} with a device code: follow the instructions shown…`;
  }
}

/** What the status line says once a sign-in it announced is over: who is signed in, or why not. */
export function signInOutcomeText(p: ProviderDto): string {
  switch (p.state) {
    case "signed_in":
    case "expiring": {
      const who = accountLabel(p.account);
      return who ? `Signed in to ${p.name} as ${who}.` : `Signed in to ${p.name}.`;
    }
    case "error":
      return `Sign-in to ${p.name} failed${p.lastError ? `: ${p.lastError.message}` : "."}`;
    case "sign_in_needed":
      return `Sign-in to ${p.name} did not finish.`;
  }
}

/** What the status line says after signing out, including whether the IdP revoked the session. */
export function signedOutText(r: SignedOut): string {
  switch (r.revocation) {
    case "revoked":
      return `Signed out of ${r.provider}; the session was revoked at the provider.`;
    case "not_offered":
      return `Signed out of ${r.provider}; tokens forgotten on this machine (the provider offers no revocation).`;
    case "no_session":
      return `${r.provider} had no session to sign out of.`;
    case "failed":
      return `Signed out of ${r.provider} on this machine, but revocation failed${r.detail ? `: ${r.detail}` : ""}.`;
    default:
      return `Signed out of ${r.provider}.`;
  }
}
