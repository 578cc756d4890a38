// CA certificates pasted as PEM travel as `caData`: the base64 of the PEM text, as kubeconfig's
// `certificate-authority-data` and Signet's config `ca_data` expect.

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/;

/** Whether the text holds at least one PEM block (e.g. a CERTIFICATE). */
export function looksLikePem(text: string): boolean {
  return PEM_BLOCK.test(text);
}

const PEM_BLOCKS = new RegExp(PEM_BLOCK.source, "g");

/**
 * Each block with its base64 body in 64-column lines and its BEGIN/END lines on their own: a paste
 * that lost its line breaks (from a web page, a chat, a one-line variable) still makes a certificate
 * TLS libraries read. Blocks with headers or anything but base64 inside stay as pasted.
 */
function rewrapBlocks(text: string): string {
  return text.replace(PEM_BLOCKS, (block: string, label: string, at: number, all: string) => {
    const body = block.slice(`-----BEGIN ${label}-----`.length, block.length - `-----END ${label}-----`.length);
    const b64 = body.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return block;
    const lines = [`-----BEGIN ${label}-----`, ...(b64.match(/.{1,64}/g) ?? []), `-----END ${label}-----`].join("\n");
    const before = at === 0 || all[at - 1] === "\n" ? "" : "\n";
    const end = at + block.length;
    // A block right after this one puts its own line break before it.
    const after = end === all.length || all[end] === "\n" || all.startsWith("-----BEGIN ", end) ? "" : "\n";
    return before + lines + after;
  });
}

/**
 * Base64 of the PEM text (UTF-8), with line endings normalised, each block's lines restored, and one
 * trailing newline.
 */
export function pemToBase64(pem: string): string {
  const normalised = rewrapBlocks(pem.replace(/\r\n?/g, "\n").trim()) + "\n";
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
