import { describe, expect, it } from "vitest";
import { dexDiscovery } from "../test/fixtures";
import { discoveryWarnings, grantSupport, issuerMatches } from "./discovery";

describe("discovery", () => {
  it("reads the grants Dex offers", () => {
    expect(grantSupport(dexDiscovery())).toEqual({ authorizationCode: true, refreshToken: true, deviceCode: true });
  });
  it("counts a device endpoint as device support even without the grant listed", () => {
    const d = { ...dexDiscovery(), grantTypes: ["authorization_code"] };
    expect(grantSupport(d).deviceCode).toBe(true);
    expect(grantSupport({ ...d, deviceAuthorizationEndpoint: null }).deviceCode).toBe(false);
  });
  it("warns about a login mode or scopes the issuer does not offer", () => {
    const d = { ...dexDiscovery(), grantTypes: ["authorization_code"], deviceAuthorizationEndpoint: null };
    const w = discoveryWarnings(d, "device", ["groups", "federated:id"]);
    expect(w.join("\n")).toMatch(/no device code/);
    expect(w.join("\n")).toMatch(/No refresh tokens/);
    expect(w.join("\n")).toMatch(/federated:id/);
    expect(discoveryWarnings(dexDiscovery(), "embedded", ["groups"])).toEqual([]);
  });
  it("compares the issuer exactly (trailing slash matters)", () => {
    expect(issuerMatches(dexDiscovery("https://dex.example.com"), " https://dex.example.com ")).toBe(true);
    expect(issuerMatches(dexDiscovery("https://dex.example.com"), "https://dex.example.com/")).toBe(false);
  });
});
