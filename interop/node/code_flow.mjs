// The authorization code flow against a running Gatehouse, with openid-client as the
// app and a real headless Chromium (driven by playwright-core) as the user's browser.
//
// openid-client discovers the server (OpenID Connect Discovery), builds the
// authorization URL with PKCE S256, state and nonce; Chromium signs in on the login
// page and clicks "Allow" on the consent page, as a person would (by label and
// button name, so the pages must be accessible); the redirect back to the app is
// captured — by a listener on 127.0.0.1 for a public (native) client, or by
// intercepting the navigation for a confidential client's https redirect URI. Then
// openid-client exchanges the code (checking state, iss, nonce and the ID token,
// whose signature it verifies against the JWK Set), refreshes, and calls userinfo.
// jose verifies both access tokens as RFC 9068 tokens.
//
// Usage: node code_flow.mjs ARTIFACTS_DIR — screenshots login.png, consent.png and
// done.png go there (failure.png if the browser part fails).
// Env: GATEHOUSE_URL, CLIENT_ID, CLIENT_SECRET (absent for a public client, which
// authenticates with `none`), REDIRECT_URI (a loopback one gets the listener's port),
// USERNAME, PASSWORD, SCOPE; CHROMIUM (default /usr/bin/chromium).
// Prints one JSON line; exits non-zero on any failure.

import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import * as jose from "jose";
import * as client from "openid-client";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env("GATEHOUSE_URL");
const clientId = env("CLIENT_ID");
const clientSecret = process.env.CLIENT_SECRET || undefined;
const registeredRedirect = new URL(env("REDIRECT_URI"));
const username = env("USERNAME");
const password = env("PASSWORD");
const scope = env("SCOPE");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = process.argv[2];
if (!artifacts) throw new Error("usage: node code_flow.mjs ARTIFACTS_DIR");

/** How long any one browser step may take. */
const STEP_MS = 15_000;
/** What the app shows once the browser is back at `arrived`: which parameters came. */
const callbackPage = (arrived) => {
  const names = [...new URL(arrived).searchParams.keys()].join(", ") || "none";
  return (
    '<!doctype html><html lang="en"><title>Back in the app</title>' +
    `<h1>Back in the app</h1><p>Parameters: ${names}</p></html>`
  );
};

const JWKS = jose.createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
const verifyAccessToken = async (token) => {
  const { payload, protectedHeader } = await jose.jwtVerify(token, JWKS, {
    issuer: url,
    typ: "at+jwt",
    algorithms: ["ES256"],
    requiredClaims: ["exp", "iat", "sub", "jti", "client_id", "scope"],
  });
  return { header: protectedHeader, claims: payload };
};

const present = (value) => typeof value === "string" && value.length > 0;

/** The header and the claims (which openid-client validated) of a response's ID token. */
const idTokenOf = (response) =>
  response.id_token
    ? { header: jose.decodeProtectedHeader(response.id_token), claims: response.claims() }
    : null;

/** OIDC Core §3.1.3.6 for ES256: base64url of the left half of SHA-256. */
const atHash = (accessToken) =>
  createHash("sha256").update(accessToken).digest().subarray(0, 16).toString("base64url");

/**
 * Where the browser comes back to, and a promise of the full URL it arrived at.
 * A loopback redirect URI (RFC 8252 §7.3) gets a real listener on an ephemeral
 * port, as a native app would open; any other is intercepted inside the browser,
 * since no server answers for the app's https host here.
 */
async function callbackReceiver() {
  let arrived;
  const callback = new Promise((resolve) => (arrived = resolve));
  if (registeredRedirect.hostname !== "127.0.0.1") {
    const redirectUri = registeredRedirect.href;
    const intercept = async (page) => {
      const matches = (u) =>
        u.origin === registeredRedirect.origin && u.pathname === registeredRedirect.pathname;
      await page.route(matches, (route) => {
        arrived(route.request().url());
        const body = callbackPage(route.request().url());
        return route.fulfill({ status: 200, contentType: "text/html", body });
      });
    };
    return { redirectUri, callback, intercept, close: async () => {} };
  }
  const server = createServer((request, response) => {
    const got = new URL(request.url, `http://${request.headers.host}`);
    if (got.pathname !== registeredRedirect.pathname) {
      response.writeHead(404).end();
      return;
    }
    arrived(got.href);
    response.writeHead(200, { "content-type": "text/html" }).end(callbackPage(got.href));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const redirect = new URL(registeredRedirect);
  redirect.port = String(server.address().port);
  const close = () => new Promise((resolve) => server.close(resolve));
  return { redirectUri: redirect.href, callback, intercept: async () => {}, close };
}

/** Rejects after `ms` with a message naming what did not happen. */
const within = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => {
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref();
    }),
  ]);

/** Drives Chromium from the authorization URL to the redirect back to the app. */
async function browse(authorizationUrl, receiver) {
  await mkdir(artifacts, { recursive: true });
  const shot = (name) => join(artifacts, name);
  const browser = await chromium.launch({ executablePath, headless: true, timeout: STEP_MS });
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS);
    const page = await context.newPage();
    await receiver.intercept(page);

    const login = await page.goto(authorizationUrl.href);
    if (login?.status() !== 200) {
      throw new Error(`the authorization URL answered ${login?.status()}`);
    }
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.screenshot({ path: shot("login.png"), fullPage: true });
    await page.getByRole("button", { name: "Sign in" }).click();

    // The consent page, or the login page again with an alert saying why not.
    const consent = page.getByRole("heading", { name: "Allow access?" });
    const alert = page.getByRole("alert");
    await consent.or(alert).first().waitFor();
    if (await alert.count()) {
      throw new Error(`signing in failed: ${(await alert.first().textContent())?.trim()}`);
    }
    const consentScopes = await page.locator("main li code").allTextContents();
    await page.screenshot({ path: shot("consent.png"), fullPage: true });
    const allow = page.getByRole("button", { name: "Allow" });
    const decision = {
      name: await allow.getAttribute("name"),
      value: await allow.getAttribute("value"),
    };
    await allow.click();

    const callbackUrl = await within(receiver.callback, STEP_MS, "redirect to the app");
    await page.getByRole("heading", { name: "Back in the app" }).waitFor();
    await page.screenshot({ path: shot("done.png"), fullPage: true });
    return {
      callbackUrl,
      consentScopes,
      decision,
      landedOn: ((u) => `${u.origin}${u.pathname}`)(new URL(page.url())),
      screenshots: {
        login: shot("login.png"),
        consent: shot("consent.png"),
        done: shot("done.png"),
      },
    };
  } catch (error) {
    // What the browser showed when it went wrong, for whoever reads the failure.
    const pages = browser.contexts().flatMap((c) => c.pages());
    await pages[0]?.screenshot({ path: shot("failure.png"), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await browser.close();
  }
}

async function main() {
  const auth = clientSecret ? client.ClientSecretBasic(clientSecret) : client.None();
  // Plain HTTP is refused unless allowed; the test server listens on loopback only.
  const config = await client.discovery(new URL(url), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  // Verify the ID token's signature against the JWK Set too, not only its claims.
  client.enableNonRepudiationChecks(config);
  const metadata = config.serverMetadata();

  const receiver = await callbackReceiver();
  try {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: receiver.redirectUri,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });

    const browsed = await browse(authorizationUrl, receiver);
    const back = new URL(browsed.callbackUrl);

    const tokens = await client.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const idToken = idTokenOf(tokens);
    const access = await verifyAccessToken(tokens.access_token);

    if (!present(tokens.refresh_token)) {
      throw new Error("no refresh_token in the code exchange's answer");
    }
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    const refreshedAccess = await verifyAccessToken(refreshed.access_token);

    const sub = idToken.claims.sub;
    const userinfo = await client.fetchUserInfo(config, refreshed.access_token, sub);

    console.log(
      JSON.stringify({
        auth_method: clientSecret ? "client_secret_basic" : "none",
        issuer: metadata.issuer,
        userinfo_endpoint: metadata.userinfo_endpoint ?? null,
        redirect_uri: receiver.redirectUri,
        sent: { state, nonce, scope },
        browser: {
          consent_scopes: browsed.consentScopes,
          decision: browsed.decision,
          landed_on: browsed.landedOn,
          screenshots: browsed.screenshots,
        },
        callback: {
          has_code: Boolean(back.searchParams.get("code")),
          state: back.searchParams.get("state"),
          iss: back.searchParams.get("iss"),
        },
        token: {
          token_type: tokens.token_type,
          scope: tokens.scope,
          expires_in: tokens.expires_in,
          has_refresh_token: present(tokens.refresh_token),
          access,
          id_token: idToken,
          expected_at_hash: atHash(tokens.access_token),
        },
        refresh: {
          token_type: refreshed.token_type,
          scope: refreshed.scope,
          has_refresh_token: present(refreshed.refresh_token),
          new_access_token: refreshed.access_token !== tokens.access_token,
          new_refresh_token:
            present(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
          access: refreshedAccess,
          id_token: idTokenOf(refreshed),
        },
        userinfo,
      }),
    );
  } finally {
    await receiver.close();
  }
}

main().catch((error) => {
  console.error(`error: ${error?.name}: ${error?.message}`, error?.cause ?? "");
  process.exit(1);
});
