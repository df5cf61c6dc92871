// A real OpenID Connect provider for rosgate's integration tests.
//
//   node idp.mjs <config.json> [port]
//
// The port may also come from IDP_PORT; 0 (the default) picks any free port.
// The server listens on 127.0.0.1 only. Once it listens it prints exactly one
// line to stdout, `IDP_READY <issuer>`, where issuer is
// `http://127.0.0.1:<port>`. Everything else goes to stderr.
//
// The config file is JSON:
//   {
//     "client_id": "...", "client_secret": "...",
//     "redirect_uris": ["..."], "post_logout_redirect_uris": ["..."],
//     "resource": "http://127.0.0.1:1234",        // the API audience
//     "accounts": [{ "id", "email", "email_verified", "name", "groups": [] }],
//     "keys_path": "/some/dir/keys.json",         // written before IDP_READY
//     "claims_mode": "id_token"                   // optional, below
//   }
//
// claims_mode says where the person's claims (email, email_verified, name,
// groups) go after an authorization code flow:
//   "id_token"          (default) in the ID token: access tokens default to
//                       the resource, so UserInfo cannot be used with them
//                       and oidc-provider puts the claims in the ID token;
//   "userinfo"          only at UserInfo (oidc-provider's default
//                       conformIdTokenClaims, like Okta's thin ID tokens):
//                       a code exchanged without `resource` yields an access
//                       token for UserInfo and an ID token with `sub` alone;
//                       `resource` at the token endpoint yields a JWT for it;
//   "claims_parameter"  as "userinfo", with the `claims` request parameter
//                       supported, and UserInfo answering 503, so only a
//                       client that asks for the claims in the ID token gets them;
//   "userinfo_wrong_sub" as "userinfo", but UserInfo describes someone else
//                       (sub "someone-else"), as a hostile or broken provider might.
//
// The keys file holds the provider's signing key and a second, unpublished
// ("stranger") key so tests can mint tokens the provider never issued:
//   { "kid", "signing_pem", "stranger_kid", "stranger_pem" }  (PKCS#8 PEM, P-256)
//
// With IDP_EXIT_ON_STDIN_EOF=1 the process exits when its stdin closes, so a
// test harness that dies without killing it does not leave it behind.
// IDP_DEBUG=1 keeps oidc-provider's development warnings and logs every error.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const debug = process.env.IDP_DEBUG === '1';

// oidc-provider announces its development-only defaults through console.warn
// and console.info (the latter on stdout, which the harness reads). Keep
// stdout for IDP_READY alone and drop the known-noisy notices.
{
  const warn = console.warn.bind(console);
  const quiet = (args) => !debug
    && typeof args[0] === 'string'
    && /^oidc-provider (WARNING|NOTICE):/.test(args[0]);
  console.warn = (...args) => { if (!quiet(args)) warn(...args); };
  console.info = (...args) => { if (!quiet(args)) warn(...args); };
  console.log = (...args) => warn(...args);
}

// Imported only now so the notices it prints while loading are filtered too.
const { default: Provider, errors } = await import('oidc-provider');

function fail(message) {
  process.stderr.write(`idp: ${message}\n`);
  process.exit(2);
}

const configPath = process.argv[2];
if (!configPath) fail('usage: node idp.mjs <config.json> [port]');

let config;
try {
  config = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (err) {
  fail(`cannot read config ${configPath}: ${err.message}`);
}
for (const key of ['client_id', 'client_secret', 'redirect_uris', 'resource', 'accounts', 'keys_path']) {
  if (config[key] === undefined) fail(`config lacks "${key}"`);
}

const port = Number(process.argv[3] ?? process.env.IDP_PORT ?? config.port ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${port}`);

// --- keys -------------------------------------------------------------------

function newKey(prefix) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `${prefix}-${randomBytes(8).toString('hex')}`;
  return {
    kid,
    jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }),
  };
}

const signing = newKey('signing');
const stranger = newKey('stranger');

{
  const tmp = `${config.keys_path}.tmp`;
  writeFileSync(tmp, JSON.stringify({
    kid: signing.kid,
    signing_pem: signing.pem,
    stranger_kid: stranger.kid,
    stranger_pem: stranger.pem,
  }, null, 2), { mode: 0o600 });
  renameSync(tmp, config.keys_path);
}

// --- accounts ---------------------------------------------------------------

const accounts = new Map(config.accounts.map((a) => [a.id, a]));

function claimsOf(account) {
  return {
    sub: account.id,
    email: account.email,
    email_verified: Boolean(account.email_verified),
    name: account.name,
    groups: account.groups ?? [],
  };
}

// --- provider ---------------------------------------------------------------

const { resource } = config;
const claimsMode = config.claims_mode ?? 'id_token';
if (!['id_token', 'userinfo', 'claims_parameter', 'userinfo_wrong_sub'].includes(claimsMode)) {
  fail(`bad claims_mode ${claimsMode}`);
}
const thin = claimsMode !== 'id_token';
const resourceServer = {
  scope: 'rosgate:read rosgate:write',
  audience: resource,
  accessTokenTTL: 300,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'ES256' } },
};

const configuration = {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [signing.jwk] },
  cookies: {
    keys: ['rosgate-test-idp-cookie-key-1', 'rosgate-test-idp-cookie-key-0'],
  },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'rosgate:read', 'rosgate:write'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    claimsParameter: { enabled: claimsMode === 'claims_parameter' },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => (thin ? undefined : resource),
      useGrantedResource: async () => !thin,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator === resource) return resourceServer;
        throw new errors.InvalidTarget();
      },
    },
  },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return claimsOf(account);
      },
    };
  },
  async extraTokenClaims(_ctx, token) {
    const account = token.accountId ? accounts.get(token.accountId) : undefined;
    if (!account) return undefined;
    return {
      email: account.email,
      email_verified: Boolean(account.email_verified),
      groups: account.groups ?? [],
    };
  },
  // Refresh tokens for every code flow of a client allowed the grant, not
  // only when offline_access survived (it is dropped when `prompt` is sent
  // without `consent`).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 24 * 60 * 60,
    Interaction: 60 * 60,
    Session: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
  },
};

const server = createServer();
server.on('error', (err) => fail(`cannot listen: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  const issuer = `http://127.0.0.1:${bound}`;
  const provider = new Provider(issuer, configuration);

  provider.on('server_error', (_ctx, err) => {
    process.stderr.write(`idp: server_error: ${err.stack ?? err}\n`);
  });
  if (debug) {
    for (const event of ['authorization.error', 'grant.error', 'end_session.error',
      'revocation.error', 'userinfo.error', 'jwks.error', 'discovery.error']) {
      provider.on(event, (_ctx, err) => {
        process.stderr.write(`idp: ${event}: ${err.message} ${err.error_description ?? ''}\n`);
      });
    }
  }

  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (claimsMode === 'claims_parameter' && req.url.startsWith('/me')) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"temporarily_unavailable"}');
      return;
    }
    if (claimsMode === 'userinfo_wrong_sub' && req.url.startsWith('/me')) {
      const someone = config.accounts[0];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...claimsOf(someone), sub: 'someone-else' }));
      return;
    }
    handle(req, res);
  });
  process.stdout.write(`IDP_READY ${issuer}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
if (process.env.IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
