// Client credentials against a running Gatehouse with third-party Node clients.
//
// jose: a token fetched with plain fetch is verified as an RFC 9068 access token
// against the published JWK Set, and a tampered copy must be refused.
// openid-client: discovers the server by both RFC 8414 (`oauth2`) and OpenID Connect
// Discovery (`oidc`) and runs clientCredentialsGrant; those tokens are verified too.
//
// Env: GATEHOUSE_URL, CLIENT_ID, CLIENT_SECRET, AUTH_METHOD
// (client_secret_basic | client_secret_post), AUDIENCE.
// Prints one JSON line; exits non-zero on any failure.

import * as jose from "jose";
import * as client from "openid-client";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env("GATEHOUSE_URL");
const clientId = env("CLIENT_ID");
const clientSecret = env("CLIENT_SECRET");
const method = env("AUTH_METHOD");
const audience = env("AUDIENCE");

const JWKS = jose.createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
const verify = (token) =>
  jose.jwtVerify(token, JWKS, {
    issuer: url,
    audience,
    typ: "at+jwt",
    algorithms: ["ES256"],
    requiredClaims: ["exp", "iat", "sub", "jti"],
  });

// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
const formEncode = (s) => encodeURIComponent(s).replace(/%20/g, "+");

async function plainToken() {
  const body = new URLSearchParams({ grant_type: "client_credentials" });
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  if (method === "client_secret_basic") {
    const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
  } else {
    body.set("client_id", clientId);
    body.set("client_secret", clientSecret);
  }
  const response = await fetch(`${url}/oauth/token`, { method: "POST", headers, body });
  const json = await response.json();
  if (response.status !== 200) {
    throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(json)}`);
  }
  return json;
}

async function tamperedRejected(token) {
  const [head, payload, signature] = token.split(".");
  const flipped = signature[10] === "A" ? "B" : "A";
  const tampered = `${head}.${payload}.${signature.slice(0, 10)}${flipped}${signature.slice(11)}`;
  try {
    await verify(tampered);
    return false;
  } catch (error) {
    if (error instanceof jose.errors.JWSSignatureVerificationFailed) return true;
    throw error;
  }
}

async function openidClient(algorithm) {
  const auth =
    method === "client_secret_basic"
      ? client.ClientSecretBasic(clientSecret)
      : client.ClientSecretPost(clientSecret);
  // Plain HTTP is refused unless allowed; the test server listens on loopback only.
  const config = await client.discovery(new URL(url), clientId, undefined, auth, {
    algorithm,
    execute: [client.allowInsecureRequests],
  });
  const token = await client.clientCredentialsGrant(config);
  const { payload } = await verify(token.access_token);
  return {
    issuer: config.serverMetadata().issuer,
    token_type: token.token_type,
    scope: token.scope,
    expires_in: token.expires_in,
    claims: payload,
  };
}

async function main() {
  const token = await plainToken();
  const { payload, protectedHeader } = await verify(token.access_token);
  const result = {
    auth_method: method,
    jose: {
      header: protectedHeader,
      claims: payload,
      scope: token.scope,
      expires_in: token.expires_in,
      tampered_rejected: await tamperedRejected(token.access_token),
    },
    openid_client: {
      oauth2: await openidClient("oauth2"),
      oidc: await openidClient("oidc"),
    },
  };
  if (!result.jose.tampered_rejected) throw new Error("jose accepted a tampered token");
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(`error: ${error?.name}: ${error?.message}`, error?.cause ?? "");
  process.exit(1);
});
