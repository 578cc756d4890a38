// Form rules for providers, clusters and settings: what the person must fix before Save is offered.
// The Rust side checks again; these give the answer while typing.
import type { ClusterInput } from "../generated/ClusterInput";
import type { Credentials } from "../generated/Credentials";
import type { LoginMode } from "../generated/LoginMode";
import type { ProviderInput } from "../generated/ProviderInput";
import type { SettingsDto } from "../generated/SettingsDto";
import { base64ToPem, caFields, looksLikePem } from "./pem";

export type Errors<K extends string> = Partial<Record<K, string>>;

export function hasErrors<K extends string>(errors: Errors<K>): boolean {
  return Object.values(errors).some((v) => typeof v === "string" && v.length > 0);
}

/** 127.0.0.0/8, ::1 and localhost: where plain http is acceptable (RFC 8252 §8.3). */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Why a URL is not acceptable for an issuer or API server (https, or http on loopback), or null. */
export function urlProblem(text: string): string | null {
  const value = text.trim();
  if (value === "") return "Required.";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "Enter a full URL, e.g. https://dex.example.com.";
  }
  if (url.protocol === "https:") {
    if (url.hostname === "") return "The URL has no host.";
  } else if (url.protocol === "http:") {
    if (!isLoopback(url.hostname)) return "Use https (plain http is allowed only for 127.0.0.1 and localhost).";
  } else {
    return "Use an https:// URL.";
  }
  if (url.search !== "" || url.hash !== "") return "Remove the query or fragment from the URL.";
  return null;
}

/** Space-separated extra scopes → list (duplicates dropped, order kept). */
export function parseScopes(text: string): string[] {
  return [...new Set(text.split(/\s+/).filter((s) => s.length > 0))];
}

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function caProblem(file: string, pem: string): { caFile?: string; caPem?: string } {
  if (file.trim() !== "" && pem.trim() !== "") {
    return { caPem: "Give either a CA file or pasted PEM, not both." };
  }
  if (pem.trim() !== "" && !looksLikePem(pem)) {
    return { caPem: "Paste the certificate in PEM form (-----BEGIN CERTIFICATE----- …)." };
  }
  return {};
}

// ---- providers ----------------------------------------------------------------------------

export type ProviderForm = {
  name: string;
  issuer: string;
  clientId: string;
  connector: string;
  scopes: string;
  caFile: string;
  caPem: string;
  login: LoginMode;
};
export type ProviderField = keyof ProviderForm;

export function emptyProviderForm(): ProviderForm {
  return { name: "", issuer: "", clientId: "", connector: "", scopes: "groups", caFile: "", caPem: "", login: "embedded" };
}

/** The form for editing a saved provider (pasted CA data is shown as its PEM again). */
export function providerFormFrom(p: ProviderInput): ProviderForm {
  return {
    name: p.name,
    issuer: p.issuer,
    clientId: p.clientId,
    connector: p.connector ?? "",
    scopes: p.scopes.join(" "),
    caFile: p.caFile ?? "",
    caPem: p.caData ? (base64ToPem(p.caData) ?? "") : "",
    login: p.login,
  };
}

// The name rules mirror signet_core::names (the back end checks again on save; these give early hints).
export const PROVIDER_NAME = /^(?!-)[a-z0-9-]{1,63}$/;
/** Cluster and context names: printable ASCII from a conservative set, no leading "-". */
export const CLUSTER_NAME = /^(?!-)[A-Za-z0-9\-._:@/+]{1,253}$/;
const CLUSTER_NAME_RULE = "Use letters, digits and - . _ : @ / + (no spaces), not starting with -.";

export function validateProvider(
  form: ProviderForm,
  opts: { existingNames: string[]; editing: boolean },
): Errors<ProviderField> {
  const errors: Errors<ProviderField> = {};
  const name = form.name.trim();
  if (name === "") errors.name = "Required.";
  else if (!PROVIDER_NAME.test(name)) errors.name = "Use lower-case letters, digits and - (at most 63), not starting with -.";
  else if (!opts.editing && opts.existingNames.includes(name)) errors.name = `A provider named ${name} exists already.`;

  const issuer = urlProblem(form.issuer);
  if (issuer) errors.issuer = issuer;

  if (form.clientId.trim() === "") errors.clientId = "Required.";
  else if (/\s/.test(form.clientId.trim())) errors.clientId = "A client id has no spaces.";

  if (/\s/.test(form.connector.trim())) errors.connector = "A connector id has no spaces.";

  const bad = parseScopes(form.scopes).find((s) => !SCOPE_TOKEN.test(s));
  if (bad !== undefined) errors.scopes = `"${bad}" is not a valid scope.`;

  Object.assign(errors, caProblem(form.caFile, form.caPem));
  return errors;
}

export function toProviderInput(form: ProviderForm): ProviderInput {
  const connector = form.connector.trim();
  return {
    name: form.name.trim(),
    issuer: form.issuer.trim(),
    clientId: form.clientId.trim(),
    connector: connector === "" ? null : connector,
    scopes: parseScopes(form.scopes),
    ...caFields(form.caFile, form.caPem),
    login: form.login,
  };
}

// ---- clusters -----------------------------------------------------------------------------

export type ClusterForm = {
  name: string;
  server: string;
  caFile: string;
  caPem: string;
  insecure: boolean;
  provider: string;
  audience: string;
  context: string;
  namespace: string;
  credentials: Credentials;
  kubeconfig: string;
};
export type ClusterField = keyof ClusterForm;

export function emptyClusterForm(provider: string, credentials: Credentials): ClusterForm {
  return {
    name: "",
    server: "",
    caFile: "",
    caPem: "",
    insecure: false,
    provider,
    audience: "",
    context: "",
    namespace: "",
    credentials,
    kubeconfig: "",
  };
}

/** Kubernetes namespace names are DNS-1123 labels. */
export const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function namespaceProblem(text: string): string | null {
  const ns = text.trim();
  if (ns === "") return "Enter a namespace.";
  if (!NAMESPACE.test(ns)) return "A namespace is lower-case letters, digits and -, at most 63 characters.";
  return null;
}

export function validateCluster(
  form: ClusterForm,
  opts: { existingNames: string[]; providers: string[] },
): Errors<ClusterField> {
  const errors: Errors<ClusterField> = {};
  const name = form.name.trim();
  if (name === "") errors.name = "Required.";
  else if (!CLUSTER_NAME.test(name)) errors.name = CLUSTER_NAME_RULE;
  else if (opts.existingNames.includes(name)) errors.name = `A cluster named ${name} exists already.`;

  const server = urlProblem(form.server);
  if (server) errors.server = server;

  Object.assign(errors, caProblem(form.caFile, form.caPem));
  if (form.insecure && (form.caFile.trim() !== "" || form.caPem.trim() !== "")) {
    errors.insecure = "Skipping TLS verification cannot be combined with a CA.";
  }

  if (form.provider === "") errors.provider = "Choose a provider.";
  else if (!opts.providers.includes(form.provider)) errors.provider = `No provider named ${form.provider}.`;

  if (/\s/.test(form.audience.trim())) errors.audience = "An audience has no spaces.";
  const context = form.context.trim();
  if (context !== "" && !CLUSTER_NAME.test(context)) errors.context = CLUSTER_NAME_RULE;
  if (form.namespace.trim() !== "") {
    const ns = namespaceProblem(form.namespace);
    if (ns) errors.namespace = ns;
  }
  return errors;
}

function orNull(text: string): string | null {
  const t = text.trim();
  return t === "" ? null : t;
}

export function toClusterInput(form: ClusterForm): ClusterInput {
  return {
    name: form.name.trim(),
    provider: form.provider,
    server: form.server.trim(),
    ...caFields(form.caFile, form.caPem),
    insecureSkipTlsVerify: form.insecure,
    audience: orNull(form.audience),
    context: orNull(form.context),
    namespace: orNull(form.namespace),
    credentials: form.credentials,
    kubeconfig: orNull(form.kubeconfig),
  };
}

// ---- settings -----------------------------------------------------------------------------

export type SettingsField = keyof SettingsDto;

export function validateSettings(s: SettingsDto): Errors<SettingsField> {
  const errors: Errors<SettingsField> = {};
  const m = s.warningMinutes;
  if (typeof m !== "number" || !Number.isInteger(m) || m < 1 || m > 120) {
    errors.warningMinutes = "Enter whole minutes from 1 to 120.";
  }
  return errors;
}

export function normaliseSettings(s: SettingsDto): SettingsDto {
  return { ...s, defaultKubeconfig: s.defaultKubeconfig === null ? null : orNull(s.defaultKubeconfig) };
}
