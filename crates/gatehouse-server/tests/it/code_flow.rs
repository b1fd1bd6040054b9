//! A scripted browser for the authorization code flow tests: cookies, hidden form
//! fields, redirects; a user, a client and the flow up to the code.

use crate::support::{Reply, TestApp, spawn_app};
use base64::Engine;
use gatehouse_api::clients::ClientWithSecret;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const PASSWORD: &str = "correct horse battery staple";
pub const CALLBACK: &str = "https://app.example.com/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-longer-than-43";

pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A browser: a client that does not follow redirects, and its cookies.
pub struct Browser {
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap();
            assert!(
                text.contains("HttpOnly") && text.contains("SameSite=Lax"),
                "{text}"
            );
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
        let status = response.status().as_u16();
        assert!(status < 500, "server error {status}");
        Reply {
            status,
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Reply {
        let request = self.http.get(url);
        self.send(request).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Reply {
        let request = self.http.post(url).form(form);
        self.send(request).await
    }
}

/// The value of the hidden input `name` in an HTML form.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

pub fn location(reply: &Reply) -> String {
    assert_eq!(reply.status, 303, "{}", reply.text());
    reply.header("location").unwrap().to_owned()
}

/// The query parameter `name` of a URL (values here are URL-safe).
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| {
            v.replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%20", " ")
        })
}

pub struct Setup {
    pub app: TestApp,
    pub client_id: String,
    pub secret: String,
    pub user_id: String,
}

/// Alice (`orders:read`, `orders:write`) and the confidential client "Orders Web"
/// (`orders:read billing:read`), allowed only the authorization code grant.
pub async fn setup() -> Setup {
    setup_with(&["authorization_code"], "orders:read billing:read").await
}

/// Alice and "Orders Web" with these grant types and scopes.
pub async fn setup_with(grant_types: &[&str], scope: &str) -> Setup {
    let app = spawn_app().await;
    let user: Value = app
        .post(
            "/admin/v1/users",
            &json!({"username": "alice", "password": PASSWORD, "scopes": ["orders:read", "orders:write"]}),
        )
        .await
        .expect(201)
        .json();
    let client: ClientWithSecret = app
        .post(
            "/admin/v1/clients",
            &json!({"name": "Orders Web", "grant_types": grant_types,
                    "redirect_uris": [CALLBACK], "scope": scope}),
        )
        .await
        .expect(201)
        .json();
    Setup {
        client_id: client.client.client_id.clone(),
        secret: client.client_secret.clone().unwrap(),
        user_id: user["id"].as_str().unwrap().to_owned(),
        app,
    }
}

pub fn authorize_url(s: &Setup, extra: &str) -> String {
    format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=orders:read%20billing:read&state=st-42&code_challenge={}&code_challenge_method=S256{extra}",
        s.app.base,
        s.client_id,
        CALLBACK.replace(':', "%3A").replace('/', "%2F"),
        challenge(VERIFIER)
    )
}

/// Runs the flow up to the code (login, approve); returns the redirect to the client.
pub async fn code_for(s: &Setup, browser: &mut Browser) -> String {
    code_with(s, browser, "").await
}

/// The same for `authorize_url(s, extra)`. A browser signed in before skips the
/// login page; a consent given before skips the consent page.
pub async fn code_with(s: &Setup, browser: &mut Browser, extra: &str) -> String {
    code_at(s, browser, &authorize_url(s, extra)).await
}

/// The same for the authorization request `url`.
pub async fn code_at(s: &Setup, browser: &mut Browser, url: &str) -> String {
    let page = browser.get(url).await;
    if page.status == 303 {
        return location(&page);
    }
    let page = page.expect(200);
    let html = page.text();
    assert!(html.contains("Orders Web"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf"));
    let login = browser
        .post(
            &format!("{}/oauth/authorize/login", s.app.base),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let consent_url = format!("{}{}", s.app.base, location(&login));
    let consent = browser.get(&consent_url).await;
    if consent.status == 303 {
        return location(&consent);
    }
    let consent = consent.expect(200);
    let html = consent.text();
    assert!(html.contains("orders:read"));
    assert!(
        !html.contains("billing:read"),
        "alice does not hold billing:read"
    );
    let approved = browser
        .post(
            &format!("{}/oauth/authorize/consent", s.app.base),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("decision", "approve"),
            ],
        )
        .await;
    location(&approved)
}

pub async fn exchange(s: &Setup, code: &str, verifier: &str) -> Reply {
    s.app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", verifier),
                ]),
        )
        .await
}
