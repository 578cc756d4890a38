#!/usr/bin/env node
// The Dex stand-in for Signet's tests: npm `oidc-provider` configured to look like Dex to a client.
// Spec: reference/idp-stand-in.md; contracts: tests/idp/README.md.
//
// stdout carries exactly one line, the ready line; everything else goes to stderr. oidc-provider prints
// notices with console.info, so the console is redirected before the library is imported (dynamically).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as querystring from 'node:querystring';

for (const name of ['log', 'info', 'debug']) console[name] = (...args) => console.error(...args);

// The first signing key is generated on the thread pool while the library loads (saves ~0.2 s).
const firstKey = new Promise((resolve, reject) => {
  crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, _pub, key) => (err ? reject(err) : resolve(key)));
});
const { default: Provider, interactionPolicy, errors } = await import('oidc-provider');
const { CompactSign } = await import('jose');

// ---------------------------------------------------------------- command line
function parseArgs(argv) {
  const opts = {
    port: 0,
    issuerPath: '/dex',
    idTokenTtl: 300,
    tlsCert: undefined,
    tlsKey: undefined,
    deviceInterval: 5,
    revocation: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      i += 1;
      if (i >= argv.length) fail(`${arg} needs a value`);
      return argv[i];
    };
    switch (arg) {
      case '--port': opts.port = Number(value()); break;
      case '--issuer-path': opts.issuerPath = value(); break;
      case '--id-token-ttl': opts.idTokenTtl = Number(value()); break;
      case '--tls-cert': opts.tlsCert = value(); break;
      case '--tls-key': opts.tlsKey = value(); break;
      case '--device-interval': opts.deviceInterval = Number(value()); break;
      case '--revocation': opts.revocation = true; break;
      case '--no-revocation': opts.revocation = false; break;
      default: fail(`unknown argument ${arg}`);
    }
  }
  if (opts.issuerPath === '/') opts.issuerPath = '';
  if (opts.issuerPath && !opts.issuerPath.startsWith('/')) opts.issuerPath = `/${opts.issuerPath}`;
  opts.issuerPath = opts.issuerPath.replace(/\/+$/, '');
  if (!Number.isInteger(opts.idTokenTtl) || opts.idTokenTtl <= 0) fail('--id-token-ttl must be a positive integer');
  if (!Number.isInteger(opts.deviceInterval) || opts.deviceInterval < 0) fail('--device-interval must be an integer');
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) fail('--tls-cert and --tls-key go together');
  return opts;
}

function fail(message) {
  console.error(`idp stand-in: ${message}`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const PREFIX = opts.issuerPath;
const CLIENT_ID = 'signet';
const AUDIENCE_SCOPE = 'audience:server:client_id:';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// Dex's refresh errors (server/refreshhandlers.go, v2.45.1).
const DEX_REFRESH_INVALID = 'Refresh token is invalid or has already been claimed by another client.';
const DEX_REFRESH_EXPIRED = 'Refresh token expired.';

// ---------------------------------------------------------------- users (Dex local password DB look-alike)
// Dex's `sub` is base64url(protobuf{1: user_id, 2: connector_id}).
function dexSub(userId, connectorId) {
  const field = (tag, s) => Buffer.concat([Buffer.from([tag, Buffer.byteLength(s)]), Buffer.from(s)]);
  return Buffer.concat([field(0x0a, userId), field(0x12, connectorId)]).toString('base64url');
}

const PEOPLE = [
  { username: 'alice', password: 'password', userId: '08a8684b-db88-4b73-90a9-3cd1661f5466', email: 'alice@example.com', emailVerified: true, groups: ['dev', 'ops'] },
  { username: 'bob', password: 'password', userId: '41331323-6f44-45e6-b3b9-2c4b60c02be5', email: 'bob@example.com', emailVerified: true, groups: ['viewers'] },
  { username: 'carol', password: 'password', userId: 'c7a3e1f0-5b2d-4c8e-9f61-2d0b7e4a9c13', email: 'carol@example.com', emailVerified: false, groups: ['dev'] },
];
// Two connectors, as a Dex with a password DB and an LDAP connector has. The same person signed in through
// either is a different Dex user: the connector is part of `sub` and of `federated_claims`.
const CONNECTORS = ['local', 'ldap'];
const DEFAULT_CONNECTOR = CONNECTORS[0];
const USERS = CONNECTORS.flatMap((connector) => PEOPLE.map((u) => ({ ...u, connector, sub: dexSub(u.userId, connector) })));
const USER_BY_SUB = new Map(USERS.map((u) => [u.sub, u]));
const findUser = (login, connector = DEFAULT_CONNECTOR) => USERS
  .find((u) => u.connector === connector && (u.username === login || u.email === login));

// ---------------------------------------------------------------- clients
const TRUSTED_PEERS = { kubernetes: [CLIENT_ID], 'other-peer': [], [CLIENT_ID]: [] };
const CLIENTS = [
  {
    client_id: CLIENT_ID,
    client_name: 'Signet',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  },
  {
    client_id: 'kubernetes',
    client_secret: 'kubernetes-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:5555/callback'],
  },
  {
    client_id: 'other-peer',
    client_secret: 'other-peer-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:5556/callback'],
  },
];
const KNOWN_CLIENTS = new Set(CLIENTS.map((c) => c.client_id));
const BASE_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'groups', 'federated:id'];
const ALL_SCOPES = [...BASE_SCOPES, ...[...KNOWN_CLIENTS].map((id) => AUDIENCE_SCOPE + id)];

// Dex's rule for the scope parameter (server/oauth2.go parseAuthorizationRequest): openid required,
// nothing unknown, cross-client audiences only for peers that trust the requester.
function dexScopeError(clientId, scope) {
  const scopes = String(scope || '').split(' ').filter(Boolean);
  if (!scopes.includes('openid')) return 'Missing required scope(s) ["openid"].';
  const unknown = [];
  const untrusted = [];
  for (const s of scopes) {
    if (s.startsWith(AUDIENCE_SCOPE)) {
      const peer = s.slice(AUDIENCE_SCOPE.length);
      if (peer !== clientId && !(TRUSTED_PEERS[peer] || []).includes(clientId)) untrusted.push(s);
    } else if (!BASE_SCOPES.includes(s)) {
      unknown.push(s);
    }
  }
  if (unknown.length) return `Unrecognized scope(s) ${JSON.stringify(unknown)}`;
  if (untrusted.length) return `Client can't request scope(s) ${JSON.stringify(untrusted)}`;
  return undefined;
}

// Dex accepts any http loopback redirect URI (any port, any path) for a public client without redirectURIs.
function isLoopbackHttp(value) {
  let url;
  try { url = new URL(value); } catch { return false; }
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// ---------------------------------------------------------------- signing keys (mutable, rotatable)
// ID tokens are signed here, not by oidc-provider's keystore, so keys can rotate without a restart.
const signingKeys = [];
function addSigningKey(privateKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey) {
  const kid = crypto.randomBytes(20).toString('hex');
  const jwk = privateKey.export({ format: 'jwk' });
  signingKeys.push({ kid, privateKey, privateJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' } });
  return kid;
}
addSigningKey(await firstKey);
const currentKey = () => signingKeys[signingKeys.length - 1];
const publicJwks = () => ({
  keys: signingKeys.map(({ kid, privateJwk: { kty, n, e } }) => ({ use: 'sig', kty, kid, alg: 'RS256', n, e })),
});

// ---------------------------------------------------------------- test state
const stats = {
  token_requests: { authorization_code: 0, refresh_token: 0, device_code: 0, total: 0 },
  refresh_failures: 0,
  revocations: 0,
  keys_requests: 0,
  discovery_requests: 0,
  auth_requests: 0,
  connector_ids: {},
  slow_downs: 0,
  device_poll_gaps_ms: [],
};
function resetStats() {
  Object.assign(stats.token_requests, { authorization_code: 0, refresh_token: 0, device_code: 0, total: 0 });
  Object.assign(stats, {
    refresh_failures: 0,
    revocations: 0,
    keys_requests: 0,
    discovery_requests: 0,
    auth_requests: 0,
    connector_ids: {},
    slow_downs: 0,
    device_poll_gaps_ms: [],
  });
}
const FAULT_ENDPOINTS = ['token', 'discovery', 'keys', 'device_code', 'userinfo'];
let faults = [];
const grantsByUser = new Map(); // username -> Set(grantId)
// Dex keeps one offline session per (user, connector, client): `${sub}|${clientId}` -> the grant whose
// refresh token is the live one (`sub` already names the connector).
const offlineSessions = new Map();
// Grants whose refresh tokens answer "Refresh token expired." (POST /__admin/expire-refresh).
const expiredGrants = new Set();
// Device-code polling state, as Dex keeps it per device token: last poll time and the interval the next
// poll must wait (0 before the first poll; the configured interval after a poll on time; +5 s after each
// poll that came too early).
const devicePolls = new Map(); // device_code -> { last, interval }
const lastDevicePoll = new Map(); // device_code -> time of its last poll (any answer), for the stats
let forcedSlowDowns = 0; // POST /__admin/device-slow-down: the next N pending polls answer slow_down
const issuedDeviceCodes = new Set(); // every device_code /device/code has answered
// Device codes whose request Dex would find past its expiry (POST /__admin/expire-device-codes): polling
// them answers `expired_token` however long `expires_in` said.
const expiredDeviceCodes = new Set();
const connectorByInteraction = new Map(); // interaction uid -> connector id
let clockSkewSeconds = 0; // POST /__admin/clock-skew: every answer's HTTP Date is this far off

// ---------------------------------------------------------------- HTML
const esc = (s) => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><div class="theme-panel">
${body}
</div></body></html>
`;

function loginPage(action, login, error) {
  return page('dex', `<h2 class="theme-heading">Log in to Your Account</h2>
<form method="post" action="${esc(action)}">
  <div class="theme-form-row"><label for="login">Username</label>
    <input tabindex="1" required id="login" name="login" type="text" class="theme-form-input" placeholder="username" value="${esc(login)}" autofocus/></div>
  <div class="theme-form-row"><label for="password">Password</label>
    <input tabindex="2" required id="password" name="password" type="password" class="theme-form-input" placeholder="password"/></div>
  ${error ? '<div id="login-error" class="dex-error-box">Invalid username and password.</div>' : ''}
  <button tabindex="3" id="submit-login" type="submit" class="dex-btn theme-btn--primary">Login</button>
</form>`);
}

// oidc-provider hands the device pages ready-made <form> snippets; keep their action and hidden fields.
function formParts(form) {
  const action = /action="([^"]*)"/.exec(form)?.[1] ?? '';
  const hidden = [...form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g)]
    .map(([, name, value]) => `<input type="hidden" name="${name}" value="${value}"/>`);
  return { action, hidden };
}

async function userCodeInputSource(ctx, form, out, err) {
  const { action, hidden } = formParts(form);
  const prefill = ctx.get('x-standin-user-code');
  let message = '';
  if (err) {
    const text = err.userCode || err.name === 'NoCodeError' ? 'Invalid or expired user code.'
      : err.name === 'AbortedError' ? 'The sign-in request was aborted.' : 'There was an error processing your request.';
    message = `<div id="device-error" class="dex-error-box">${esc(text)}</div>`;
  }
  ctx.type = 'html';
  ctx.body = page('dex', `<h2 class="theme-heading">Enter User Code</h2>
${message}
<form id="device-code-form" method="post" action="${action}">
  ${hidden.join('\n  ')}
  <input tabindex="1" required id="user-code" name="user_code" type="text" class="theme-form-input" placeholder="XXXX-XXXX" value="${esc(prefill)}" autocomplete="off" autofocus/>
  <button tabindex="2" id="submit-user-code" type="submit" class="dex-btn theme-btn--primary">Submit</button>
</form>`);
}

async function userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
  const { action, hidden } = formParts(form);
  const abortHidden = hidden.filter((h) => !h.includes('name="confirm"'));
  ctx.type = 'html';
  ctx.body = page('dex', `<h2 class="theme-heading">Grant Access</h2>
<p>${esc(client.clientName || client.clientId)} wants to sign you in. Code: <code id="confirm-user-code">${esc(userCode)}</code></p>
<form id="device-confirm-form" method="post" action="${action}">
  ${hidden.join('\n  ')}
  <button id="submit-confirm" type="submit" class="dex-btn theme-btn--primary">Grant Access</button>
</form>
<form id="device-abort-form" method="post" action="${action}">
  ${abortHidden.join('\n  ')}
  <input type="hidden" name="abort" value="yes"/>
  <button id="submit-abort" type="submit" class="dex-btn">Cancel</button>
</form>`);
}

async function successSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('dex', `<div id="device-success"><h2 class="theme-heading">Login Successful</h2>
<p>Return to your device to continue.</p></div>`);
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('dex', `<h2 class="theme-heading">Bad Request</h2>
<div id="error" class="dex-error-box"><span id="error-code">${esc(out.error)}</span>: <span id="error-description">${esc(out.error_description)}</span></div>`);
}

// ---------------------------------------------------------------- provider
// Dex shows the login form every time (no SSO): the login prompt is unresolved until this interaction logs in.
const policy = interactionPolicy.base();
policy.get('login').checks.push(new interactionPolicy.Check(
  'dex_no_sso',
  'the login form is shown for every authorization request',
  (ctx) => (ctx.oidc.result?.login ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT),
));

const LONG = 14 * 24 * 3600;
const configuration = {
  clients: CLIENTS,
  jwks: { keys: [currentKey().privateJwk] },
  findAccount: async (_ctx, sub) => {
    const user = USER_BY_SUB.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        email: user.email,
        email_verified: user.emailVerified,
        name: user.username,
        preferred_username: user.username,
        groups: user.groups,
        federated_claims: { connector_id: user.connector, user_id: user.userId },
      }),
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
    'federated:id': ['federated_claims'],
  },
  scopes: ALL_SCOPES,
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  clientBasedCORS: () => false,
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true, userCodeInputSource, userCodeConfirmSource, successSource },
    revocation: { enabled: opts.revocation },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
  },
  routes: {
    authorization: '/auth',
    token: '/token',
    jwks: '/keys',
    userinfo: '/userinfo',
    device_authorization: '/device/code',
    code_verification: '/device',
    revocation: '/token/revoke',
  },
  ttl: {
    // Read at issue time, so POST /__admin/id-token-ttl changes the lifetime of the next tokens.
    AccessToken: () => opts.idTokenTtl,
    IdToken: () => opts.idTokenTtl,
    AuthorizationCode: 300,
    DeviceCode: 300,
    RefreshToken: LONG,
    Grant: LONG,
    Session: 24 * 3600,
    Interaction: 3600,
  },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  interactions: {
    url: (ctx, interaction) => {
      const connector = ctx.req.standinConnector || DEFAULT_CONNECTOR;
      connectorByInteraction.set(interaction.uid, connector);
      return `${PREFIX}/auth/${connector}/login/${interaction.uid}`;
    },
    policy,
  },
  renderError,
};

let provider; // created once the real port (and so the issuer) is known

function patchProvider() {
  // Dex's loopback redirect rule for the public client.
  const { Client, IdToken } = provider;
  const redirectUriAllowed = Client.prototype.redirectUriAllowed;
  Client.prototype.redirectUriAllowed = function dexRedirectUriAllowed(value) {
    if (this.clientId === CLIENT_ID && isLoopbackHttp(value)) return true;
    return redirectUriAllowed.call(this, value);
  };

  // Dex's cross-client audience (server/oauth2.go newIDToken): aud = [requested peers..., client], and
  // azp = client whenever a cross-client scope was requested (even `audience:server:client_id:<itself>`,
  // which leaves a single aud).
  // Also signs with the current rotatable key. Relies on oidc-provider@9.13.3 internals (pinned).
  const issue = IdToken.prototype.issue;
  IdToken.prototype.issue = async function dexIdTokenIssue(options = {}) {
    if (options.use !== 'idtoken') return issue.call(this, options);
    const clientId = this.client.clientId;
    const payload = await this.payload();
    for (const claim of ['at_hash', 'c_hash', 's_hash']) {
      if (payload[claim]) {
        const digest = crypto.createHash('sha256').update(payload[claim]).digest();
        payload[claim] = digest.subarray(0, digest.length / 2).toString('base64url');
      }
    }
    const peers = String(this.scope || '').split(' ')
      .filter((s) => s.startsWith(AUDIENCE_SCOPE)).map((s) => s.slice(AUDIENCE_SCOPE.length));
    const aud = [...new Set(peers)];
    if (!aud.includes(clientId)) aud.push(clientId);
    const now = Math.floor(Date.now() / 1000);
    delete payload.sid;
    delete payload.auth_time;
    const claims = {
      iss: provider.issuer,
      ...payload,
      aud: aud.length === 1 ? aud[0] : aud,
      exp: options.expiresAt || now + opts.idTokenTtl,
      iat: now,
    };
    if (peers.length > 0) claims.azp = clientId;
    const key = currentKey();
    return new CompactSign(Buffer.from(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .sign(key.privateKey);
  };

  // Dex (reuseInterval 0): a rotated-out refresh token is simply gone, so replaying it fails while the grant
  // and the newest refresh token stay valid. oidc-provider would instead mark it consumed and revoke the
  // whole grant on replay. The synchronous claim makes concurrent refreshes of one token race like in Dex:
  // exactly one wins, the others get Dex's "claimed by another client" answer (mapped below).
  const claimed = new Set();
  provider.RefreshToken.prototype.consume = function dexForgetRotatedRefreshToken() {
    if (claimed.has(this.jti)) throw new errors.InvalidGrant('refresh token already used');
    claimed.add(this.jti);
    return this.destroy();
  };

  provider.use(async (ctx, next) => {
    await next();
    const grantType = ctx.req.standinGrantType;
    const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : undefined;
    if (ctx.oidc?.route === 'token' && grantType === 'refresh_token' && ctx.status === 400 && body) {
      // Dex's refresh errors: whatever oidc-provider found wrong with the token itself, Dex says
      // invalid_request with its fixed text; a widened scope is invalid_request too.
      if (body.error === 'invalid_grant') {
        ctx.body = { error: 'invalid_request', error_description: DEX_REFRESH_INVALID };
      } else if (body.error === 'invalid_scope') {
        const requested = String(ctx.req.standinScope || '').split(' ').filter(Boolean);
        ctx.body = {
          error: 'invalid_request',
          error_description: `Requested scopes contain unauthorized scope(s): ${JSON.stringify(requested)}.`,
        };
      }
      return;
    }
    if (ctx.oidc?.route === 'token' && grantType === DEVICE_GRANT && ctx.status === 400
      && body?.error === 'authorization_pending') {
      // Dex's device rate limit (server/deviceflowhandlers.go): a poll before last + interval answers
      // slow_down and adds 5 s to the interval; a poll on time resets it to the configured one.
      const code = ctx.req.standinDeviceCode;
      const now = Date.now();
      const state = devicePolls.get(code) || { last: undefined, interval: 0 };
      let tooEarly = state.last !== undefined && now < state.last + state.interval * 1000;
      if (!tooEarly && forcedSlowDowns > 0) {
        forcedSlowDowns -= 1;
        tooEarly = true;
        state.interval = opts.deviceInterval; // answered as if early: the interval grows from the base
      }
      state.interval = tooEarly ? state.interval + 5 : opts.deviceInterval;
      state.last = now;
      devicePolls.set(code, state);
      if (tooEarly) {
        stats.slow_downs += 1;
        ctx.body = { error: 'slow_down' };
      } else {
        ctx.body = { error: 'authorization_pending' };
      }
      return;
    }
    if (ctx.status !== 200 || !body) return;
    // Dex's device authorization response carries `interval`; its token responses say "bearer".
    if (ctx.oidc?.route === 'device_authorization') {
      ctx.body = { ...body, interval: opts.deviceInterval };
      issuedDeviceCodes.add(body.device_code);
    }
    if (ctx.oidc?.route === 'token' && body.token_type) ctx.body = { ...ctx.body, token_type: 'bearer' };
    // Dex keeps one refresh token per (user, connector, client): a new sign-in deletes the older one
    // (server/handlers.go exchangeAuthCode, the OfflineSessions entry is replaced).
    const grant = ctx.oidc?.entities?.Grant;
    if (ctx.oidc?.route === 'token' && body.refresh_token && grant
      && (grantType === 'authorization_code' || grantType === DEVICE_GRANT)) {
      const key = `${grant.accountId}|${grant.clientId}`;
      const previous = offlineSessions.get(key);
      offlineSessions.set(key, grant.jti);
      if (previous && previous !== grant.jti) await provider.RefreshToken.revokeByGrantId(previous);
    }
  });

  provider.on('server_error', (_ctx, err) => console.error('idp stand-in: server_error', err));
}

// ---------------------------------------------------------------- HTTP plumbing
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendHtml(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

function discovery(issuer) {
  const doc = {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/keys`,
    userinfo_endpoint: `${issuer}/userinfo`,
    device_authorization_endpoint: `${issuer}/device/code`,
  };
  if (opts.revocation) doc.revocation_endpoint = `${issuer}/token/revoke`;
  return {
    ...doc,
    grant_types_supported: ['authorization_code', 'refresh_token', DEVICE_GRANT],
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'email', 'groups', 'profile', 'offline_access'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    claims_supported: ['iss', 'sub', 'aud', 'iat', 'exp', 'email', 'email_verified', 'locale', 'name',
      'preferred_username', 'at_hash', 'groups', 'federated_claims'],
  };
}

// Which fault endpoint a request hits, if any.
function faultEndpoint(method, path) {
  if (path === `${PREFIX}/.well-known/openid-configuration`) return 'discovery';
  if (path === `${PREFIX}/keys`) return 'keys';
  if (method === 'POST' && path === `${PREFIX}/token`) return 'token';
  if (method === 'POST' && path === `${PREFIX}/device/code`) return 'device_code';
  if (path === `${PREFIX}/userinfo`) return 'userinfo';
  return undefined;
}

function takeFault(endpoint) {
  const fault = faults.find((f) => f.endpoint === endpoint && f.remaining > 0);
  if (!fault) return undefined;
  fault.remaining -= 1;
  faults = faults.filter((f) => f.remaining > 0);
  return fault;
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// An injected failure as Dex would answer it: the token and device endpoints answer Dex's token-error JSON
// (a 500 carries `invalid_request` and no description, like a failed upstream refresh); discovery, keys
// and userinfo answer Dex's HTML error page.
function sendFault(res, endpoint, fault) {
  if (endpoint === 'token' || endpoint === 'device_code') {
    const body = { error: fault.error };
    if (fault.status === 401 && !fault.errorGiven) body.error_description = 'Invalid client credentials.';
    return sendJson(res, fault.status, body);
  }
  const text = fault.status >= 500 ? 'Internal server error.' : 'Bad request.';
  return sendHtml(res, fault.status, page('dex', `<h2 class="theme-heading">${esc(http.STATUS_CODES[fault.status] || 'Error')}</h2>
<div id="error" class="dex-error-box"><span id="error-description">${esc(text)}</span></div>`));
}

// Dex's checks on a refresh token, in its order (server/refreshhandlers.go): missing, unknown or already
// claimed, issued to another client, expired. Answers the error body, or undefined to let the grant run.
async function dexRefreshCheck(req, form) {
  const value = String(form.refresh_token || '');
  if (!value) return { error: 'invalid_request', error_description: 'No refresh token is found in request.' };
  const token = await provider.RefreshToken.find(value, { ignoreExpiration: true });
  if (!token) return { error: 'invalid_request', error_description: DEX_REFRESH_INVALID };
  let clientId = form.client_id;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    clientId = decodeURIComponent(Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0]);
  }
  if (token.clientId !== clientId) return { error: 'invalid_grant', error_description: DEX_REFRESH_INVALID };
  if (expiredGrants.has(token.grantId) || token.isExpired) {
    return { error: 'invalid_request', error_description: DEX_REFRESH_EXPIRED };
  }
  return undefined;
}

async function admin(req, res, path) {
  const raw = req.method === 'POST' ? await readBody(req) : '';
  let body = {};
  if (raw.trim()) {
    try { body = JSON.parse(raw); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
  }
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'GET /__admin/device-codes':
      // Every device_code issued so far: the secrets a client must never log (tests grep logs for them).
      return sendJson(res, 200, { device_codes: [...issuedDeviceCodes] });
    case 'GET /__admin/stats':
      return sendJson(res, 200, stats);
    case 'POST /__admin/reset-stats':
      resetStats();
      return sendJson(res, 200, stats);
    case 'POST /__admin/revoke': {
      const user = findUser(body.user);
      if (!user) return sendJson(res, 400, { error: `unknown user ${body.user}` });
      const grantIds = [...(grantsByUser.get(user.username) || [])];
      for (const grantId of grantIds) {
        await Promise.all([
          provider.AccessToken.revokeByGrantId(grantId),
          provider.RefreshToken.revokeByGrantId(grantId),
          provider.AuthorizationCode.revokeByGrantId(grantId),
          provider.DeviceCode.revokeByGrantId(grantId),
          provider.Grant.adapter.destroy(grantId),
        ]);
      }
      grantsByUser.delete(user.username);
      return sendJson(res, 200, { user: user.username, revoked_grants: grantIds.length });
    }
    case 'POST /__admin/fault': {
      const endpoint = body.endpoint;
      if (!FAULT_ENDPOINTS.includes(endpoint)) {
        return sendJson(res, 400, { error: `endpoint must be one of ${FAULT_ENDPOINTS.join(', ')}` });
      }
      const status = body.status === undefined ? undefined : Number(body.status);
      const delayMs = body.delay_ms === undefined ? undefined : Number(body.delay_ms);
      if (status === undefined && delayMs === undefined) return sendJson(res, 400, { error: 'need status and/or delay_ms' });
      const count = body.count === undefined ? 1 : Number(body.count);
      const error = body.error || (status === 401 ? 'invalid_client' : 'invalid_request');
      faults.push({ endpoint, status, delayMs, error, errorGiven: Boolean(body.error), remaining: count });
      return sendJson(res, 200, { faults });
    }
    case 'POST /__admin/expire-refresh': {
      // Models Dex's absoluteLifetime / validIfNotUsedFor running out for every refresh token of the user.
      const user = findUser(body.user);
      if (!user) return sendJson(res, 400, { error: `unknown user ${body.user}` });
      const grantIds = [...(grantsByUser.get(user.username) || [])];
      for (const grantId of grantIds) expiredGrants.add(grantId);
      return sendJson(res, 200, { user: user.username, expired_grants: grantIds.length });
    }
    case 'POST /__admin/device-slow-down': {
      const count = body.count === undefined ? 1 : Number(body.count);
      if (!Number.isInteger(count) || count < 0) return sendJson(res, 400, { error: 'count must be a non-negative integer' });
      forcedSlowDowns = count;
      return sendJson(res, 200, { device_slow_downs: count });
    }
    case 'POST /__admin/expire-device-codes': {
      // Models Dex's expiry.deviceRequests running out for every device code issued so far.
      for (const code of issuedDeviceCodes) expiredDeviceCodes.add(code);
      return sendJson(res, 200, { expired_device_codes: issuedDeviceCodes.size });
    }
    case 'POST /__admin/clock-skew': {
      const seconds = Number(body.seconds);
      if (!Number.isInteger(seconds)) return sendJson(res, 400, { error: 'seconds must be an integer' });
      clockSkewSeconds = seconds;
      return sendJson(res, 200, { clock_skew: seconds });
    }
    case 'POST /__admin/id-token-ttl': {
      const seconds = Number(body.seconds);
      if (!Number.isInteger(seconds) || seconds <= 0) return sendJson(res, 400, { error: 'seconds must be a positive integer' });
      opts.idTokenTtl = seconds;
      return sendJson(res, 200, { id_token_ttl: seconds });
    }
    case 'POST /__admin/fault/clear':
      faults = [];
      return sendJson(res, 200, { faults });
    case 'POST /__admin/rotate-keys': {
      const kid = addSigningKey();
      return sendJson(res, 200, { kid, kids: signingKeys.map((k) => k.kid) });
    }
    default:
      return sendJson(res, 404, { error: `no admin route ${route}` });
  }
}

// Login (+ automatic consent, like Dex's skipApprovalScreen) for one interaction.
async function interaction(req, res, path) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return sendHtml(res, 400, page('dex', `<div id="error" class="dex-error-box">${esc(err.message)}</div>`));
  }
  const { prompt, params, uid } = details;
  if (!path.endsWith(`/${uid}`)) {
    return sendHtml(res, 400, page('dex', '<div id="error" class="dex-error-box">interaction mismatch</div>'));
  }
  let user;
  const connector = connectorByInteraction.get(uid) || DEFAULT_CONNECTOR;
  if (prompt.name === 'login') {
    if (req.method !== 'POST') return sendHtml(res, 200, loginPage(path, '', false));
    const form = querystring.parse(await readBody(req));
    const login = String(form.login || '');
    user = findUser(login, connector);
    if (!user || user.password !== String(form.password || '')) {
      return sendHtml(res, 401, loginPage(path, login, true));
    }
  } else {
    user = USER_BY_SUB.get(details.session?.accountId);
    if (!user) return sendHtml(res, 400, page('dex', '<div id="error" class="dex-error-box">no session</div>'));
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: user.sub, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  for (const claim of details.prompt.details?.missingOIDCClaims || []) grant.addOIDCClaims([claim]);
  const grantId = await grant.save();
  if (!grantsByUser.has(user.username)) grantsByUser.set(user.username, new Set());
  grantsByUser.get(user.username).add(grantId);
  return provider.interactionFinished(req, res, {
    login: { accountId: user.sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

// Redirects an authorization error back to the client when the redirect URI is acceptable (Dex does this).
function authError(res, query, error, description) {
  const client = CLIENTS.find((c) => c.client_id === query.client_id);
  const redirectUri = String(query.redirect_uri || '');
  const acceptable = client && (client.redirect_uris.includes(redirectUri)
    || (client.client_id === CLIENT_ID && isLoopbackHttp(redirectUri)));
  if (!acceptable) {
    return sendHtml(res, 400, page('dex', `<div id="error" class="dex-error-box"><span id="error-code">${esc(error)}</span>: ${esc(description)}</div>`));
  }
  const target = new URL(redirectUri);
  target.searchParams.set('error', error);
  target.searchParams.set('error_description', description);
  if (query.state !== undefined) target.searchParams.set('state', String(query.state));
  res.writeHead(302, { Location: target.href, 'Content-Length': 0 });
  return res.end();
}

// For the public client Dex accepts HTTP Basic with an empty secret and an empty client_secret form field.
function normalizeClientAuth(req, form) {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const [id, secret = ''] = decoded.split(':').map((s) => decodeURIComponent(s));
    if (id === CLIENT_ID && secret === '') {
      delete req.headers.authorization;
      form.client_id = id;
    }
  }
  if (form.client_id === CLIENT_ID && form.client_secret === '') delete form.client_secret;
}

let providerCallback;

async function handle(req, res) {
  const url = new URL(req.url, 'http://standin.invalid');
  const path = url.pathname;
  // Node sends its own Date only when none is set: a skewed one stands for a server whose clock is off.
  if (clockSkewSeconds) res.setHeader('Date', new Date(Date.now() + clockSkewSeconds * 1000).toUTCString());

  if (path.startsWith('/__admin/')) return admin(req, res, path);
  if (PREFIX && !(path === PREFIX || path.startsWith(`${PREFIX}/`))) return sendJson(res, 404, { error: 'not_found' });

  const faultName = faultEndpoint(req.method, path);
  let form;
  if (req.method === 'POST' && [`${PREFIX}/token`, `${PREFIX}/device/code`, `${PREFIX}/token/revoke`].includes(path)) {
    form = querystring.parse(await readBody(req));
  }
  if (faultName === 'token') {
    const grantType = String(form.grant_type || '');
    req.standinGrantType = grantType;
    req.standinScope = form.scope;
    req.standinDeviceCode = String(form.device_code || '');
    if (grantType === DEVICE_GRANT) {
      const now = Date.now();
      const previous = lastDevicePoll.get(req.standinDeviceCode);
      if (previous !== undefined) stats.device_poll_gaps_ms.push(now - previous);
      lastDevicePoll.set(req.standinDeviceCode, now);
    }
    const key = grantType === DEVICE_GRANT ? 'device_code' : grantType;
    if (key in stats.token_requests && key !== 'total') stats.token_requests[key] += 1;
    stats.token_requests.total += 1;
    if (grantType === 'refresh_token') {
      res.on('finish', () => { if (res.statusCode >= 400) stats.refresh_failures += 1; });
    }
  }
  if (req.method === 'POST' && path === `${PREFIX}/token/revoke` && opts.revocation) stats.revocations += 1;
  if (faultName === 'keys' && req.method === 'GET') stats.keys_requests += 1;
  if (faultName === 'discovery' && req.method === 'GET') stats.discovery_requests += 1;

  const fault = faultName && takeFault(faultName);
  if (fault?.delayMs) await sleep(fault.delayMs);
  if (fault?.status) return sendFault(res, faultName, fault);

  if (path === `${PREFIX}/.well-known/openid-configuration` && req.method === 'GET') {
    return sendJson(res, 200, discovery(provider.issuer));
  }
  if (path === `${PREFIX}/keys` && req.method === 'GET') {
    return sendJson(res, 200, publicJwks(), { 'Cache-Control': 'max-age=600, must-revalidate' });
  }
  if (/^\/auth\/[^/]+\/login\//.test(path.slice(PREFIX.length))) return interaction(req, res, path);
  // Dex has no revocation endpoint (dexidp/dex#1778): without --revocation the path does not exist.
  if (path === `${PREFIX}/token/revoke` && !opts.revocation) return sendJson(res, 404, { error: 'not_found' });

  if (path === `${PREFIX}/auth` && req.method === 'GET') {
    const query = Object.fromEntries(url.searchParams);
    stats.auth_requests += 1;
    const connectorId = url.searchParams.get('connector_id');
    const counted = connectorId ?? '';
    stats.connector_ids[counted] = (stats.connector_ids[counted] || 0) + 1;
    if (connectorId !== null) {
      // Dex (server/handlers.go handleAuthorization): a known connector_id skips the picker, an unknown one
      // is a 400 error page.
      if (!CONNECTORS.includes(connectorId)) {
        return sendHtml(res, 400, page('dex', `<h2 class="theme-heading">Bad Request</h2>
<div id="error" class="dex-error-box"><span id="error-description">Connector ID does not match a valid Connector</span></div>`));
      }
      req.standinConnector = connectorId;
      url.searchParams.delete('connector_id');
      req.url = url.pathname + url.search;
    }
    if (KNOWN_CLIENTS.has(query.client_id)) {
      const problem = dexScopeError(query.client_id, query.scope);
      if (problem) return authError(res, query, 'invalid_scope', problem);
    }
    // offline_access needs prompt=consent in oidc-provider; consent is then approved automatically.
    if (String(query.scope || '').split(' ').includes('offline_access')) {
      const prompts = new Set(String(query.prompt || '').split(' ').filter((p) => p && p !== 'none'));
      prompts.add('consent');
      url.searchParams.set('prompt', [...prompts].join(' '));
      req.url = url.pathname + url.search;
    }
  }
  if (path === `${PREFIX}/device` && req.method === 'GET' && url.searchParams.has('user_code')) {
    req.headers['x-standin-user-code'] = url.searchParams.get('user_code');
    url.searchParams.delete('user_code');
    req.url = url.pathname + url.search;
  }
  if (form) {
    normalizeClientAuth(req, form);
    if (path === `${PREFIX}/token` && form.grant_type === DEVICE_GRANT
      && expiredDeviceCodes.has(String(form.device_code || ''))) {
      // Dex (server/deviceflowhandlers.go): a device request past its expiry answers 400 expired_token, no
      // description.
      return sendJson(res, 400, { error: 'expired_token' });
    }
    if (path === `${PREFIX}/token` && form.grant_type === 'refresh_token') {
      const refused = await dexRefreshCheck(req, form);
      if (refused) return sendJson(res, 400, refused);
    }
    if (path === `${PREFIX}/device/code` && KNOWN_CLIENTS.has(form.client_id)) {
      const problem = dexScopeError(form.client_id, form.scope || 'openid');
      if (problem) return sendJson(res, 400, { error: 'invalid_scope', error_description: problem });
    }
    // The body was consumed here; oidc-provider falls back to req.body (it logs a one-time warning).
    req.body = querystring.stringify(form);
  }

  // Mount the provider under the issuer path (oidc-provider derives the mount path from originalUrl).
  req.originalUrl = req.url;
  req.url = req.url.slice(PREFIX.length) || '/';
  return providerCallback(req, res);
}

// ---------------------------------------------------------------- start
const tls = opts.tlsCert ? { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) } : undefined;
const onRequest = (req, res) => {
  handle(req, res).catch((err) => {
    console.error('idp stand-in: request failed', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    else res.destroy();
  });
};
const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
server.keepAliveTimeout = 1000;

server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}${PREFIX}`;
  provider = new Provider(issuer, configuration);
  patchProvider();
  providerCallback = provider.callback();
  process.stdout.write(`${JSON.stringify({ ready: true, issuer, port })}\n`);
  console.error(`idp stand-in: listening on ${issuer}`);
});

function shutdown(why) {
  console.error(`idp stand-in: exiting (${why})`);
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();
