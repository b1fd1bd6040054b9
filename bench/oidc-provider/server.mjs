// oidc-provider (panva) as a client-credentials token endpoint, the counterpart of
// Gatehouse's POST /oauth/token in bench/run-token.sh.
//
//   PORT=4472 CLIENT_SECRET=... node server.mjs
//
// One static client "bench" (client_secret_basic, client_credentials only) and one
// resource server, used by default, whose access tokens are ES256-signed JWTs
// (RFC 9068, typ at+jwt) with aud "orders", scope "orders:read" and a 600 s lifetime —
// the same shape as the token Gatehouse issues for the client run-token.sh creates.
// Tokens in JWT format are not stored (oidc-provider persists only opaque ones), so the
// default in-memory adapter is never written to on this path.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.PORT || 4472);
const host = '127.0.0.1';
const clientSecret = process.env.CLIENT_SECRET || randomBytes(48).toString('base64url');
const resource = 'urn:gatehouse-bench:orders';

// A fresh P-256 key at every start, as a private JWK for the provider's keystore.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  alg: 'ES256',
  use: 'sig',
};

const provider = new Provider(`http://${host}:${port}`, {
  clients: [{
    client_id: 'bench',
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'orders:read',
  }],
  // Scopes the provider knows besides the OpenID ones; the client may have them.
  scopes: ['orders:read'],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [signingJwk] },
  // Cookie keys only so the provider does not warn; the token endpoint sets no cookie.
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No resource parameter in the request: use the one resource server.
      defaultResource: async () => resource,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          audience: 'orders',
          scope: 'orders:read',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: { ClientCredentials: 600 },
});
provider.proxy = false;

// The provider's own Koa app is a request listener; no extra framework in front.
const server = provider.listen(port, host, () => {
  // run-token.sh waits for this line.
  console.log(JSON.stringify({
    ready: `http://${host}:${port}`,
    client_id: 'bench',
    resource,
    node: process.version,
    env: process.env.NODE_ENV || 'development',
  }));
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
