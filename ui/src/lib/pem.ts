// CA certificates pasted as PEM travel as `caData`: the base64 of the PEM text, as kubeconfig's
// `certificate-authority-data` and Signet's config `ca_data` expect.

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/;

/** Whether the text holds at least one PEM block (e.g. a CERTIFICATE). */
export function looksLikePem(text: string): boolean {
  return PEM_BLOCK.test(text);
}

/** Base64 of the PEM text (UTF-8), with line endings normalised and one trailing newline. */
export function pemToBase64(pem: string): string {
  const normalised = pem.replace(/\r\n?/g, "\n").trim() + "\n";
  const bytes = new TextEncoder().encode(normalised);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** The PEM text inside `caData`, or null when it is not base64 of a PEM (so the form leaves it as is). */
export function base64ToPem(data: string): string | null {
  try {
    const binary = atob(data.replace(/\s+/g, ""));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return looksLikePem(text) ? text : null;
  } catch {
    return null;
  }
}

/**
 * The `caFile`/`caData` pair for a form's two CA inputs: a path is sent as is, pasted PEM is
 * base64-encoded; empty inputs become null.
 */
export function caFields(file: string, pem: string): { caFile: string | null; caData: string | null } {
  const path = file.trim();
  const text = pem.trim();
  return {
    caFile: path === "" ? null : path,
    caData: text === "" ? null : pemToBase64(text),
  };
}
