#!/usr/bin/env node
// A tiny hostile issuer: Dex-shaped discovery and endpoints, but /token hands out a crafted ID token chosen
// by the mode (POST /__admin/mode, or the `code` value). Contracts: tests/idp/README.md.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as querystring from 'node:querystring';

for (const name of ['log', 'info', 'debug']) console[name] = (...args) => console.error(...args);

const { CompactSign } = await import('jose');

const MODES = ['good', 'wrong-iss', 'wrong-aud', 'expired', 'bad-signature', 'alg-none', 'hs256',
  'nonce-mismatch', 'state-mismatch', 'unknown-kid', 'no-azp', 'wrong-azp', 'extra-aud'];
const AUDIENCE_SCOPE = 'audience:server:client_id:';
const KID = 'hostile-1';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const opts = { port: 0, issuerPath: '/dex', tlsCert: undefined, tlsKey: undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 1) {
  const arg = argv[i];
  const value = () => {
    i += 1;
    if (i >= argv.length) { console.error(`hostile: ${arg} needs a value`); process.exit(2); }
    return argv[i];
  };
  switch (arg) {
    case '--port': opts.port = Number(value()); break;
    case '--issuer-path': opts.issuerPath = value().replace(/\/+$/, ''); break;
    case '--tls-cert': opts.tlsCert = value(); break;
    case '--tls-key': opts.tlsKey = value(); break;
    default: console.error(`hostile: unknown argument ${arg}`); process.exit(2);
  }
}
const PREFIX = opts.issuerPath;

const rsa = () => new Promise((resolve, reject) => {
  crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, _pub, key) => (err ? reject(err) : resolve(key)));
});
// publishedKey is in /keys as "hostile-1"; impostorKey signs with the same kid (bad-signature);
// unknownKey signs as "hostile-unknown", a kid /keys never lists.
const [publishedKey, impostorKey, unknownKey] = await Promise.all([rsa(), rsa(), rsa()]);

let mode = 'good';
let lastNonce; // nonce of the latest /auth request
let lastScope = ''; // scope of the latest /auth request (decides aud/azp like Dex)
const stats = {
  token_requests: { authorization_code: 0, refresh_token: 0, device_code: 0, total: 0 },
  auth_requests: 0,
  discovery_requests: 0,
  keys_requests: 0,
  device_codes: 0,
};

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

// Dex's audience rule: aud = [requested peers..., client]; azp = client when a peer was requested.
function dexAudience(clientId) {
  const peers = lastScope.split(' ').filter((s) => s.startsWith(AUDIENCE_SCOPE)).map((s) => s.slice(AUDIENCE_SCOPE.length));
  const aud = [...new Set(peers)];
  if (!aud.includes(clientId)) aud.push(clientId);
  return { aud, azp: peers.length > 0 ? clientId : undefined };
}

async function craftIdToken(issuer, m, clientId, nonce) {
  const now = Math.floor(Date.now() / 1000);
  let { aud, azp } = dexAudience(clientId);
  switch (m) {
    case 'no-azp': // several audiences and no azp
      if (!aud.includes('kubernetes')) aud.unshift('kubernetes');
      azp = undefined;
      break;
    case 'wrong-azp': azp = 'someone-else'; break;
    case 'extra-aud': aud.push('someone-else'); azp = clientId; break;
    default: break;
  }
  const claims = {
    iss: issuer,
    sub: 'CgVldmlsZRIFbG9jYWw',
    aud: aud.length === 1 ? aud[0] : aud,
    azp,
    exp: now + 300,
    iat: now,
    nonce,
    email: 'mallory@example.com',
    email_verified: true,
    name: 'mallory',
    preferred_username: 'mallory',
    groups: ['dev'],
  };
  let key = publishedKey;
  let header = { alg: 'RS256', kid: KID };
  switch (m) {
    case 'wrong-iss': claims.iss = `https://evil.example.com${PREFIX}`; break;
    case 'wrong-aud': claims.aud = 'someone-else'; break;
    case 'expired': claims.iat = now - 900; claims.exp = now - 600; break;
    case 'nonce-mismatch': claims.nonce = 'not-the-nonce'; break;
    case 'bad-signature': key = impostorKey; break;
    case 'unknown-kid': key = unknownKey; header = { alg: 'RS256', kid: 'hostile-unknown' }; break;
    case 'alg-none': return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    case 'hs256':
      key = new TextEncoder().encode(clientId);
      header = { alg: 'HS256', kid: KID };
      break;
    default: break; // good, state-mismatch
  }
  if (claims.nonce === undefined) delete claims.nonce;
  if (claims.azp === undefined) delete claims.azp;
  return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header).sign(key);
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

let issuer;

async function handle(req, res) {
  const url = new URL(req.url, 'http://hostile.invalid');
  const path = url.pathname;
  const route = `${req.method} ${path}`;

  if (route === 'GET /__admin/stats') return sendJson(res, 200, { ...stats, mode });
  if (route === 'POST /__admin/mode') {
    let body;
    try { body = JSON.parse(await readBody(req)); } catch { return sendJson(res, 400, { error: 'body must be JSON' }); }
    if (!MODES.includes(body.mode)) return sendJson(res, 400, { error: `mode must be one of ${MODES.join(', ')}` });
    mode = body.mode;
    return sendJson(res, 200, { mode });
  }

  switch (route) {
    case `GET ${PREFIX}/.well-known/openid-configuration`:
      stats.discovery_requests += 1;
      return sendJson(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/keys`,
        userinfo_endpoint: `${issuer}/userinfo`,
        device_authorization_endpoint: `${issuer}/device/code`,
        grant_types_supported: ['authorization_code', 'refresh_token', DEVICE_GRANT],
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256', 'plain'],
        scopes_supported: ['openid', 'email', 'groups', 'profile', 'offline_access'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        claims_supported: ['iss', 'sub', 'aud', 'iat', 'exp', 'email', 'email_verified', 'name', 'preferred_username'],
      });
    case `GET ${PREFIX}/keys`: {
      stats.keys_requests += 1;
      const { kty, n, e } = publishedKey.export({ format: 'jwk' });
      return sendJson(res, 200, { keys: [{ use: 'sig', kty, kid: KID, alg: 'RS256', n, e }] });
    }
    case `GET ${PREFIX}/auth`: {
      stats.auth_requests += 1;
      const redirectUri = url.searchParams.get('redirect_uri');
      let target;
      try { target = new URL(redirectUri); } catch { return sendJson(res, 400, { error: 'invalid_request' }); }
      lastNonce = url.searchParams.get('nonce') ?? undefined;
      lastScope = url.searchParams.get('scope') ?? '';
      target.searchParams.set('code', mode);
      const state = mode === 'state-mismatch' ? 'not-the-state' : url.searchParams.get('state');
      if (state !== null) target.searchParams.set('state', state);
      res.writeHead(302, { Location: target.href, 'Content-Length': 0 });
      return res.end();
    }
    case `POST ${PREFIX}/device/code`: {
      // Dex's device authorization answer; the device is approved at once (the first poll gets tokens).
      const form = querystring.parse(await readBody(req));
      lastScope = String(form.scope || 'openid');
      stats.device_codes += 1;
      return sendJson(res, 200, {
        device_code: `d-${stats.device_codes}`,
        user_code: 'HOST-ILE1',
        verification_uri: `${issuer}/device`,
        verification_uri_complete: `${issuer}/device?user_code=HOST-ILE1`,
        expires_in: 300,
        interval: 1,
      });
    }
    case `POST ${PREFIX}/token`: {
      const form = querystring.parse(await readBody(req));
      const grantType = String(form.grant_type || '');
      const key = grantType === DEVICE_GRANT ? 'device_code' : grantType;
      if (['authorization_code', 'refresh_token', 'device_code'].includes(key)) stats.token_requests[key] += 1;
      stats.token_requests.total += 1;
      // The code names the mode of a sign-in; a refresh or a device poll gets the mode set now, so a
      // session signed in `good` can be refreshed into a forgery.
      let m = mode;
      if (grantType === 'authorization_code' && MODES.includes(String(form.code))) m = String(form.code);
      if (grantType === DEVICE_GRANT && !String(form.device_code || '').startsWith('d-')) {
        return sendJson(res, 400, { error: 'invalid_request', error_description: 'Invalid Device code.' });
      }
      let clientId = form.client_id ? String(form.client_id) : 'signet';
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        clientId = decodeURIComponent(Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0]);
      }
      return sendJson(res, 200, {
        access_token: 'x',
        token_type: 'bearer',
        expires_in: 300,
        refresh_token: `r-${m}`,
        // A device grant has no nonce; a refresh repeats the sign-in's, as the code grant's token had it.
        id_token: await craftIdToken(issuer, m, clientId, grantType === DEVICE_GRANT ? undefined : lastNonce),
      });
    }
    default:
      return sendJson(res, 404, { error: 'not_found' });
  }
}

const tls = opts.tlsCert ? { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) } : undefined;
const onRequest = (req, res) => {
  handle(req, res).catch((err) => {
    console.error('hostile: request failed', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    else res.destroy();
  });
};
const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
server.keepAliveTimeout = 1000;
server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}${PREFIX}`;
  process.stdout.write(`${JSON.stringify({ ready: true, issuer, port })}\n`);
  console.error(`hostile: listening on ${issuer}`);
});

const shutdown = (why) => { console.error(`hostile: exiting (${why})`); process.exit(0); };
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();
