import { describe, expect, it } from "vitest";
import { base64ToPem, caFields, looksLikePem, pemToBase64 } from "./pem";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

describe("PEM ↔ caData", () => {
  it("recognises PEM blocks", () => {
    expect(looksLikePem(PEM)).toBe(true);
    expect(looksLikePem("MIIBszCCAVmgAwIBAgIU")).toBe(false);
    expect(looksLikePem("-----BEGIN CERTIFICATE-----\nabc\n-----END PRIVATE KEY-----")).toBe(false);
  });

  it("base64-encodes the PEM text, as kubeconfig's certificate-authority-data", () => {
    expect(pemToBase64(PEM)).toBe(btoa(PEM));
    // What a shell would give: base64 -w0 ca.pem
    expect(atob(pemToBase64(PEM))).toBe(PEM);
  });

  it("normalises CRLF and surrounding blank lines", () => {
    const pasted = "\r\n" + PEM.replace(/\n/g, "\r\n") + "\r\n\r\n";
    expect(pemToBase64(pasted)).toBe(btoa(PEM));
  });

  it("restores the line breaks a paste lost, so TLS libraries can read the certificate", () => {
    const body = "A".repeat(64) + "B".repeat(64) + "C".repeat(10) + "==";
    const pem = `-----BEGIN CERTIFICATE-----\n${"A".repeat(64)}\n${"B".repeat(64)}\n${"C".repeat(10)}==\n-----END CERTIFICATE-----\n`;
    expect(atob(pemToBase64(`-----BEGIN CERTIFICATE-----${body}-----END CERTIFICATE-----`))).toBe(pem);
    expect(atob(pemToBase64(`-----BEGIN CERTIFICATE----- ${body.slice(0, 70)} ${body.slice(70)} -----END CERTIFICATE-----`))).toBe(pem);
    // Two blocks on one line; text around them is kept.
    expect(atob(pemToBase64(`subject=ca ${PEM.trim()}${PEM.trim()}`))).toBe(`subject=ca \n${PEM}${PEM}`);
    // A block with headers (an encrypted key) is left as pasted.
    const headers = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nabc\n-----END RSA PRIVATE KEY-----";
    expect(atob(pemToBase64(headers))).toBe(headers + "\n");
  });

  it("decodes caData back to PEM for editing, and refuses anything else", () => {
    expect(base64ToPem(btoa(PEM))).toBe(PEM);
    expect(base64ToPem(btoa("not a pem"))).toBeNull();
    expect(base64ToPem("%%%")).toBeNull();
  });

  it("maps the form's two CA inputs to caFile/caData", () => {
    expect(caFields("  ", "")).toEqual({ caFile: null, caData: null });
    expect(caFields(" /etc/ca.pem ", "")).toEqual({ caFile: "/etc/ca.pem", caData: null });
    expect(caFields("", PEM)).toEqual({ caFile: null, caData: btoa(PEM) });
  });
});
