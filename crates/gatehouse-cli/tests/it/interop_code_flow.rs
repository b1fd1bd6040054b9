//! The authorization code flow with third-party clients no one here wrote, against
//! the real server: Node openid-client as the app with a real headless Chromium
//! (playwright-core, Debian's `chromium`) as the user's browser
//! (`interop/node/code_flow.mjs`), and Python Authlib as the app with `requests`
//! as the browser (`interop/python/code_flow.py`). Each signs a user in, consents,
//! exchanges the code with PKCE, validates the ID token, refreshes and calls
//! userinfo; the scripts print what they got and the tests check it here. A
//! confidential web app (`client_secret_basic`, https redirect URI) and a public
//! native app (`none`, loopback redirect URI) run the flow with each client.
//!
//! The browser's screenshots of the login, consent and landing pages stay under
//! `CARGO_TARGET_TMPDIR/code-flow-artifacts/` for a person to look at.

use crate::support::{Home, Server};
use crate::third_party::{admin_post, node, python, run_json_against, start_server_in};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const DISPLAY_NAME: &str = "Alice Example";
const EMAIL: &str = "alice@example.com";
/// What the clients may be granted; `email` is never asked for, so userinfo must
/// not tell the address.
const CLIENT_SCOPE: &str = "openid profile email orders:read";
/// What the apps ask for: two identity scopes the user needs not hold, and one API
/// scope the user holds.
const REQUESTED: &str = "openid profile orders:read";
/// A confidential client's redirect URI: https, never answered by a real server here.
const WEB_CALLBACK: &str = "https://app.example.com/callback";
/// A native app's redirect URI; it may come back on any port (RFC 8252 §7.3).
const NATIVE_CALLBACK: &str = "http://127.0.0.1/callback";
/// Launching Chromium and two page loads take longer than an admin command.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[test]
fn openid_client_in_chromium_signs_in_consents_and_refreshes_for_a_web_app() {
    let flow = Flow::new("client_secret_basic", WEB_CALLBACK);
    let out = flow.in_chromium("web-app");
    assert_eq!(out["redirect_uri"], WEB_CALLBACK, "{out}");
}

#[test]
fn openid_client_in_chromium_signs_in_for_a_native_app_on_a_loopback_port() {
    let flow = Flow::new("none", NATIVE_CALLBACK);
    let out = flow.in_chromium("native-app");
    let redirect = out["redirect_uri"].as_str().expect("redirect_uri");
    let port = redirect
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/callback"))
        .and_then(|port| port.parse::<u16>().ok());
    assert!(
        port.is_some_and(|p| p != 80),
        "the app listens on a port of its own: {redirect}"
    );
}

#[test]
fn authlib_signs_in_consents_and_refreshes_for_a_web_app() {
    Flow::new("client_secret_basic", WEB_CALLBACK).with_authlib();
}

#[test]
fn authlib_signs_in_consents_and_refreshes_for_a_native_app() {
    Flow::new("none", NATIVE_CALLBACK).with_authlib();
}

/// A server with a user who may sign in and a client of the code flow.
struct Flow {
    server: Server,
    /// The server's data and logs; dropped after it.
    _home: Home,
    user_id: String,
    client_id: String,
    /// None for a public client.
    client_secret: Option<String>,
    auth_method: &'static str,
    redirect_uri: &'static str,
}

impl Flow {
    /// Starts a server, creates the user (then sets the password) and registers a
    /// client of `auth_method` that may come back to `redirect_uri` and refresh.
    fn new(auth_method: &'static str, redirect_uri: &'static str) -> Self {
        let mut home = Home::new();
        let (server, admin) = start_server_in(&mut home);
        let (status, user) = admin_post(
            &server,
            &admin,
            "/admin/v1/users",
            &json!({"username": USERNAME, "display_name": DISPLAY_NAME, "email": EMAIL,
                    "scopes": ["orders:read"]}),
        );
        assert_eq!(status, 201, "{user}");
        assert_eq!(user["has_password"], false, "{user}");
        let user_id = user["id"].as_str().expect("user id").to_owned();
        let (status, user) = admin_post(
            &server,
            &admin,
            &format!("/admin/v1/users/{user_id}/password"),
            &json!({"password": PASSWORD}),
        );
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["has_password"], true, "{user}");

        let (status, client) = admin_post(
            &server,
            &admin,
            "/admin/v1/clients",
            &json!({"name": "Orders Web", "grant_types": ["authorization_code", "refresh_token"],
                    "redirect_uris": [redirect_uri], "scope": CLIENT_SCOPE,
                    "token_endpoint_auth_method": auth_method}),
        );
        assert_eq!(status, 201, "{client}");
        assert_eq!(
            client["token_endpoint_auth_method"], auth_method,
            "{client}"
        );
        let client_secret = client["client_secret"].as_str().map(str::to_owned);
        assert_eq!(
            client_secret.is_none(),
            auth_method == "none",
            "a secret exactly for a confidential client: {client}"
        );
        Self {
            server,
            _home: home,
            user_id,
            client_id: client["client_id"].as_str().expect("client_id").to_owned(),
            client_secret,
            auth_method,
            redirect_uri,
        }
    }

    /// The environment every script reads.
    fn script(&self, mut cmd: Command) -> Command {
        cmd.env("GATEHOUSE_URL", self.server.url())
            .env("CLIENT_ID", &self.client_id)
            .env("REDIRECT_URI", self.redirect_uri)
            .env("USERNAME", USERNAME)
            .env("PASSWORD", PASSWORD)
            .env("SCOPE", REQUESTED)
            .env_remove("CLIENT_SECRET");
        if let Some(secret) = &self.client_secret {
            cmd.env("CLIENT_SECRET", secret);
        }
        cmd
    }

    /// Runs `code_flow.mjs` with screenshots in a fresh `artifacts/<name>` directory,
    /// checks everything it reports, and returns its output.
    fn in_chromium(&self, name: &str) -> Value {
        let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("code-flow-artifacts")
            .join(name);
        // Screenshots of an earlier run must not pass for this one's.
        match std::fs::remove_dir_all(&artifacts) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove {}: {e}", artifacts.display()),
        }
        let mut cmd = self.script(node("code_flow.mjs"));
        cmd.arg(&artifacts);
        let out = run_json_against(&self.server, cmd, BROWSER_DEADLINE);
        self.assert_flow(&out);

        assert_eq!(out["issuer"], self.server.url(), "{out}");
        let browser = &out["browser"];
        // Chromium clicked the button a person would: "Allow", posting the approval.
        assert_eq!(
            browser["decision"],
            json!({"name": "decision", "value": "approve"})
        );
        // The consent page named exactly what the user then granted.
        assert_eq!(
            strings(&browser["consent_scopes"]),
            strings(&out["token"]["scope"]),
            "{out}"
        );
        assert!(
            browser["landed_on"]
                .as_str()
                .is_some_and(|u| u.ends_with("/callback")),
            "{browser}"
        );
        for page in ["login", "consent", "done"] {
            let path = PathBuf::from(
                browser["screenshots"][page]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {page} screenshot: {out}")),
            );
            assert_eq!(path, artifacts.join(format!("{page}.png")));
            assert_png(&path);
        }

        // openid-client checks the ID token but not its at_hash: compare with the
        // hash the script computed of the access token it received.
        let token = &out["token"];
        assert_eq!(
            token["id_token"]["claims"]["at_hash"], token["expected_at_hash"],
            "{token}"
        );
        out
    }

    /// Runs `code_flow.py` and checks everything it reports.
    fn with_authlib(&self) {
        let cmd = self.script(python("code_flow.py"));
        let out = run_json_against(&self.server, cmd, BROWSER_DEADLINE);
        self.assert_flow(&out);
        // The sign-in answered with a 303 to the consent page, which offered both
        // decisions under the names a browser posts.
        assert_eq!(out["login_redirects"], json!([303]), "{out}");
        let buttons = &out["consent_buttons"];
        assert!(
            buttons.as_array().is_some_and(|b| {
                b.contains(&json!({"name": "decision", "value": "approve", "label": "Allow"}))
                    && b.contains(&json!({"name": "decision", "value": "deny", "label": "Deny"}))
            }),
            "{buttons}"
        );
    }

    /// What both clients report: the redirect, the tokens of the code and of the
    /// refresh, and userinfo.
    fn assert_flow(&self, out: &Value) {
        let issuer = self.server.url();
        assert_eq!(out["auth_method"], self.auth_method, "{out}");
        let sent = &out["sent"];
        assert_eq!(sent["scope"], REQUESTED, "{out}");
        for value in ["state", "nonce"] {
            assert!(
                sent[value].as_str().is_some_and(|v| v.len() >= 16),
                "the app sent a random {value}: {sent}"
            );
        }

        // RFC 6749 §4.1.2 and RFC 9207: a code, the app's state, the issuer.
        let callback = &out["callback"];
        assert_eq!(callback["has_code"], true, "{callback}");
        assert_eq!(callback["state"], sent["state"], "{out}");
        assert_eq!(callback["iss"], issuer.as_str(), "{callback}");

        let token = &out["token"];
        assert!(
            token["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
            "{token}"
        );
        assert_eq!(strings(&token["scope"]), scopes(REQUESTED), "{token}");
        assert_eq!(token["has_refresh_token"], true, "{token}");
        let access = &token["access"];
        self.assert_user_access_token(access);

        // OIDC Core §3.1.3.7; the clients verified the signature against the JWK Set.
        self.assert_id_token(&token["id_token"]);
        let id = &token["id_token"]["claims"];
        assert_eq!(id["nonce"], sent["nonce"], "{id}");
        assert!(
            id["at_hash"].as_str().is_some_and(|h| !h.is_empty()),
            "{id}"
        );

        let refresh = &out["refresh"];
        assert_eq!(refresh["new_access_token"], true, "{refresh}");
        assert_eq!(refresh["has_refresh_token"], true, "rotated: {refresh}");
        assert_eq!(
            refresh["new_refresh_token"], true,
            "a refresh token different from the first: {refresh}"
        );
        let refreshed = &refresh["access"];
        self.assert_user_access_token(refreshed);
        assert_ne!(
            refreshed["claims"]["jti"], access["claims"]["jti"],
            "{refresh}"
        );
        // An ID token on refresh is optional; one that comes is about the same
        // sign-in (OIDC Core §12.2).
        let refreshed_id = &refresh["id_token"];
        if !refreshed_id.is_null() {
            self.assert_id_token(refreshed_id);
            assert_eq!(
                refreshed_id["claims"]["auth_time"], id["auth_time"],
                "{refresh}"
            );
        }

        // OIDC Core §5.3 with the refreshed token: `profile` tells the names,
        // and `email`, not asked for, keeps the address back.
        let userinfo = &out["userinfo"];
        assert_eq!(userinfo["sub"], self.user_id.as_str(), "{userinfo}");
        assert_eq!(userinfo["preferred_username"], USERNAME, "{userinfo}");
        assert_eq!(userinfo["name"], DISPLAY_NAME, "{userinfo}");
        assert!(userinfo.get("email").is_none(), "{userinfo}");
    }

    /// An RFC 9068 access token for the user, with the scope the user granted.
    fn assert_user_access_token(&self, token: &Value) {
        let (header, claims) = (&token["header"], &token["claims"]);
        assert_eq!(header["typ"], "at+jwt", "{header}");
        assert_eq!(header["alg"], "ES256", "{header}");
        assert_eq!(claims["iss"], self.server.url(), "{claims}");
        assert_eq!(claims["sub"], self.user_id.as_str(), "{claims}");
        assert_eq!(claims["client_id"], self.client_id.as_str(), "{claims}");
        assert_eq!(strings(&claims["scope"]), scopes(REQUESTED), "{claims}");
    }

    /// The header and claims every ID token of this flow carries.
    fn assert_id_token(&self, token: &Value) {
        assert_eq!(token["header"]["alg"], "ES256", "{token}");
        let claims = &token["claims"];
        assert_eq!(claims["iss"], self.server.url(), "{claims}");
        assert_eq!(claims["sub"], self.user_id.as_str(), "{claims}");
        let aud = &claims["aud"];
        assert!(
            *aud == self.client_id.as_str() || *aud == json!([self.client_id]),
            "aud is the client: {claims}"
        );
        assert_eq!(claims["azp"], self.client_id.as_str(), "{claims}");
        let (Some(iat), Some(exp), Some(auth_time)) = (
            claims["iat"].as_i64(),
            claims["exp"].as_i64(),
            claims["auth_time"].as_i64(),
        ) else {
            panic!("iat, exp and auth_time must be numbers: {claims}");
        };
        assert!(auth_time <= iat && iat < exp, "{claims}");
    }
}

/// The scopes in a space-separated string.
fn scopes(text: &str) -> BTreeSet<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// A space-separated scope string or an array of strings, as a set.
fn strings(value: &Value) -> BTreeSet<String> {
    match value {
        Value::String(text) => scopes(text),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("not scopes: {other}"),
    }
}

/// `path` is a PNG with more than a signature in it.
fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
    assert!(
        bytes.starts_with(PNG_SIGNATURE) && bytes.len() > 1024,
        "{} is not a PNG screenshot ({} bytes)",
        path.display(),
        bytes.len()
    );
}
