// Reading an issuer's discovery document for the provider form: which grants it offers, whether
// sign-out can revoke, and what would not work with the chosen settings.
import type { DiscoveryDto } from "../generated/DiscoveryDto";
import type { LoginMode } from "../generated/LoginMode";

export const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export type GrantSupport = { authorizationCode: boolean; refreshToken: boolean; deviceCode: boolean };

export function grantSupport(d: DiscoveryDto): GrantSupport {
  return {
    authorizationCode: d.grantTypes.includes("authorization_code"),
    refreshToken: d.grantTypes.includes("refresh_token"),
    deviceCode: d.grantTypes.includes(DEVICE_GRANT) || d.deviceAuthorizationEndpoint !== null,
  };
}

/** Problems worth a warning (not a blocker): the login mode or scopes the issuer does not offer. */
export function discoveryWarnings(d: DiscoveryDto, login: LoginMode, scopes: string[]): string[] {
  const g = grantSupport(d);
  const out: string[] = [];
  if (login === "device" && !g.deviceCode) out.push("This issuer offers no device code sign-in; choose embedded or browser.");
  if (login !== "device" && !g.authorizationCode) out.push("This issuer does not list the authorization code grant.");
  if (!g.refreshToken) out.push("No refresh tokens: you will have to sign in again whenever a token expires.");
  if (d.scopes.length > 0) {
    const missing = scopes.filter((s) => !d.scopes.includes(s));
    if (missing.length > 0) out.push(`Scopes not advertised by the issuer: ${missing.join(", ")}.`);
  }
  return out;
}

/** Same issuer text? Discovery's `issuer` must equal the configured one; a trailing slash matters. */
export function issuerMatches(d: DiscoveryDto, typed: string): boolean {
  return d.issuer === typed.trim();
}
