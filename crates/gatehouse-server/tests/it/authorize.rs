//! The authorization code flow with PKCE, driven like a browser with scripted form
//! posts: login, consent, code, token — and every refusal on the way, none of which
//! issues anything.

use crate::code_flow::{
    Browser, CALLBACK, PASSWORD, VERIFIER, authorize_url, challenge, code_for, exchange, hidden,
    location, param, setup,
};
use gatehouse_api::clients::{ClientWithSecret, TokenResponse};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_user_logs_in_consents_and_the_app_gets_a_token_for_them() {
    let s = setup().await;
    let mut browser = Browser::new();
    let back = code_for(&s, &mut browser).await;
    assert!(back.starts_with(&format!("{CALLBACK}?code=")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-42"));
    assert_eq!(param(&back, "iss").as_deref(), Some(s.app.base.as_str()));
    let code = param(&back, "code").unwrap();

    let reply = exchange(&s, &code, VERIFIER).await.expect(200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let token: TokenResponse = reply.json();
    assert_eq!(token.scope, "orders:read");
    let verified = s
        .app
        .verify_published(&token.access_token, &s.app.base, "at+jwt")
        .await;
    assert_eq!(verified.claims.sub.as_deref(), Some(s.user_id.as_str()));
    assert_eq!(
        verified.claims.client_id.as_deref(),
        Some(s.client_id.as_str())
    );

    // A second use of the code fails and revokes what the first gave.
    let replay = exchange(&s, &code, VERIFIER).await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.json::<Value>()["error"], "invalid_grant");
    let introspected: Value = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/introspect")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[("token", token.access_token.as_str())]),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(introspected["active"], false);

    // With the session and the consent remembered, the next authorization goes
    // straight back with a code; prompt=consent asks again, prompt=login signs in
    // again.
    let back = location(&browser.get(&authorize_url(&s, "")).await);
    assert!(param(&back, "code").is_some(), "{back}");
    let page = browser
        .get(&authorize_url(&s, "&prompt=consent"))
        .await
        .expect(200);
    assert!(page.text().contains("decision"), "consent page expected");
    let page = browser
        .get(&authorize_url(&s, "&prompt=login"))
        .await
        .expect(200);
    assert!(page.text().contains("password"), "login page expected");

    let events = s.app.audit("action=user.login").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "allowed");
    assert!(
        !s.app
            .get("/admin/v1/audit?limit=1000")
            .await
            .text()
            .contains(PASSWORD)
    );
}

#[tokio::test]
async fn bad_requests_get_an_error_page_and_never_a_redirect() {
    let s = setup().await;
    let mut browser = Browser::new();
    for variant in [
        "https://app.example.com/callback/",
        "https://app.example.com/callback/x",
        "https://app.example.com/callback?x=1",
        "https://APP.example.com/callback",
        "https://app.example.com:8443/callback",
        "https://evil@app.example.com/callback",
        "http://app.example.com/callback",
        "https://evil.example/callback",
    ] {
        let url = authorize_url(&s, "").replace(
            &CALLBACK.replace(':', "%3A").replace('/', "%2F"),
            &variant
                .replace(':', "%3A")
                .replace('/', "%2F")
                .replace('?', "%3F")
                .replace('=', "%3D")
                .replace('@', "%40"),
        );
        let reply = browser.get(&url).await;
        assert_eq!(reply.status, 400, "{variant}");
        assert!(
            reply.header("location").is_none(),
            "{variant} was redirected"
        );
        assert!(reply.text().contains("cannot continue"));
    }
    let unknown = authorize_url(&s, "").replace(&s.client_id, "cli_unknown");
    let reply = browser.get(&unknown).await;
    assert_eq!(reply.status, 400);
    assert!(reply.header("location").is_none());
}

#[tokio::test]
async fn pkce_and_response_type_errors_go_back_to_the_client() {
    let s = setup().await;
    let mut browser = Browser::new();
    let plain =
        authorize_url(&s, "").replace("code_challenge_method=S256", "code_challenge_method=plain");
    let back = location(&browser.get(&plain).await);
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-42"));
    let missing = authorize_url(&s, "").replace("&code_challenge_method=S256", "");
    let back = location(&browser.get(&missing).await);
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    let token = authorize_url(&s, "").replace("response_type=code", "response_type=token");
    let back = location(&browser.get(&token).await);
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("unsupported_response_type")
    );
}

#[tokio::test]
async fn a_wrong_verifier_another_client_or_another_redirect_uri_gets_nothing() {
    let s = setup().await;
    let mut browser = Browser::new();
    let code = param(&code_for(&s, &mut browser).await, "code").unwrap();
    let reply = exchange(&s, &code, "wrong-verifier-wrong-verifier-wrong-verifier-x").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json::<Value>()["error"], "invalid_grant");
    // The failed attempt spent the code.
    let reply = exchange(&s, &code, VERIFIER).await;
    assert_eq!(reply.json::<Value>()["error"], "invalid_grant");

    let code = param(&code_for(&s, &mut browser).await, "code").unwrap();
    let other: ClientWithSecret = s
        .app
        .post(
            "/admin/v1/clients",
            &json!({"name": "other", "grant_types": ["authorization_code"], "redirect_uris": [CALLBACK], "scope": "orders:read"}),
        )
        .await
        .expect(201)
        .json();
    let reply = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&other.client.client_id, other.client_secret.as_deref())
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", VERIFIER),
                ]),
        )
        .await;
    assert_eq!(reply.json::<Value>()["error"], "invalid_grant");

    let code = param(&code_for(&s, &mut browser).await, "code").unwrap();
    let reply = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .basic_auth(&s.client_id, Some(&s.secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "https://app.example.com/other"),
                    ("code_verifier", VERIFIER),
                ]),
        )
        .await;
    assert_eq!(reply.json::<Value>()["error"], "invalid_grant");
    let issued = s.app.audit("action=oauth.token&outcome=allowed").await;
    assert!(issued.is_empty(), "nothing was issued");
}

#[tokio::test]
async fn csrf_wrong_passwords_and_denial_are_refused_and_audited() {
    let s = setup().await;
    let mut browser = Browser::new();
    let html = browser.get(&authorize_url(&s, "")).await.expect(200).text();
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf"));
    let login_url = format!("{}/oauth/authorize/login", s.app.base);

    // Without the CSRF token, or from a browser without the cookie: refused.
    let reply = browser
        .post(
            &login_url,
            &[
                ("request", &request),
                ("csrf", "forged"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    let mut other_browser = Browser::new();
    let reply = other_browser
        .post(
            &login_url,
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(
        other_browser
            .cookies
            .iter()
            .all(|(n, _)| n != "gatehouse_session")
    );

    let reply = browser
        .post(
            &login_url,
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(reply.status, 401);
    assert!(reply.text().contains("Wrong username or password"));
    let reply = browser
        .post(
            &login_url,
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "nobody"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(reply.status, 401);

    let login = browser
        .post(
            &login_url,
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    location(&login);
    let denied = browser
        .post(
            &format!("{}/oauth/authorize/consent", s.app.base),
            &[("request", &request), ("csrf", &csrf), ("decision", "deny")],
        )
        .await;
    let back = location(&denied);
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-42"));
    assert!(param(&back, "code").is_none());

    let logins = s.app.audit("action=user.login").await;
    let reasons: Vec<_> = logins
        .iter()
        .map(|e| (e.outcome.as_str(), e.reason.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("denied", "csrf".to_owned()),
            ("denied", "csrf".to_owned()),
            ("denied", "bad_credentials".to_owned()),
            ("denied", "bad_credentials".to_owned()),
            ("allowed", String::new()),
        ]
    );
}

#[tokio::test]
async fn a_native_app_uses_any_loopback_port_and_redeems_its_code_without_a_secret() {
    let s = setup().await;
    let native: Value = s
        .app
        .post(
            "/admin/v1/clients",
            &json!({"name": "CLI app", "grant_types": ["authorization_code"],
                    "token_endpoint_auth_method": "none",
                    "redirect_uris": ["http://127.0.0.1/callback"], "scope": "orders:read"}),
        )
        .await
        .expect(201)
        .json();
    assert!(native.get("client_secret").is_none());
    let id = native["client_id"].as_str().unwrap();
    let redirect = "http://127.0.0.1:53117/callback";
    let url = format!(
        "{}/oauth/authorize?response_type=code&client_id={id}&redirect_uri={}&state=n1&code_challenge={}&code_challenge_method=S256",
        s.app.base,
        redirect.replace(':', "%3A").replace('/', "%2F"),
        challenge(VERIFIER)
    );
    let mut browser = Browser::new();
    let html = browser.get(&url).await.expect(200).text();
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf"));
    location(
        &browser
            .post(
                &format!("{}/oauth/authorize/login", s.app.base),
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await,
    );
    let back = location(
        &browser
            .post(
                &format!("{}/oauth/authorize/consent", s.app.base),
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("decision", "approve"),
                ],
            )
            .await,
    );
    assert!(
        back.starts_with(&format!("{redirect}?code=")),
        "the port the app listens on: {back}"
    );
    let code = param(&back, "code").unwrap();
    let form = |verifier: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", id.to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    // Without the verifier nothing; a public client cannot use client credentials.
    let reply = s
        .app
        .send(s.app.request(Method::POST, "/oauth/token").form(&form("")))
        .await;
    assert_eq!(reply.json::<Value>()["error"], "invalid_request");
    let reply = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .form(&form(VERIFIER)),
        )
        .await
        .expect(200);
    let token: TokenResponse = reply.json();
    assert_eq!(token.scope, "orders:read");
    let reply = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/token")
                .form(&[("grant_type", "client_credentials"), ("client_id", id)]),
        )
        .await;
    assert_eq!(reply.json::<Value>()["error"], "unauthorized_client");
    let reply = s
        .app
        .send(
            s.app
                .request(Method::POST, "/oauth/introspect")
                .form(&[("client_id", id), ("token", token.access_token.as_str())]),
        )
        .await;
    assert_eq!(reply.status, 401, "a public client cannot introspect");
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_for_a_while() {
    let s = setup().await;
    let mut browser = Browser::new();
    let html = browser.get(&authorize_url(&s, "")).await.expect(200).text();
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf"));
    let login_url = format!("{}/oauth/authorize/login", s.app.base);
    let mut statuses = Vec::new();
    // The throttle's delays are real sleeps from the third failure; keep the count
    // at the lock threshold and let the manual clock move past each delay.
    for _ in 0..10 {
        s.app.clock.advance_millis(10_000);
        let reply = browser
            .post(
                &login_url,
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("username", "alice"),
                    ("password", "wrong password!!"),
                ],
            )
            .await;
        statuses.push(reply.status);
    }
    assert!(statuses.iter().all(|&s| s == 401), "{statuses:?}");
    let reply = browser
        .post(
            &login_url,
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(reply.status, 429, "locked even with the right password");
    assert!(reply.header("retry-after").is_some());
    let locked = s.app.audit("action=user.login&outcome=denied").await;
    assert_eq!(locked.last().unwrap().reason.as_deref(), Some("throttled"));
}

#[tokio::test]
async fn a_burst_of_guesses_gets_three_checks_and_the_right_password_inside_it_does_not_sign_in() {
    let s = setup().await;
    let mut browser = Browser::new();
    let html = browser.get(&authorize_url(&s, "")).await.expect(200).text();
    let (request, csrf) = (hidden(&html, "request"), hidden(&html, "csrf"));
    let cookie = browser
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let login_url = format!("{}/oauth/authorize/login", s.app.base);
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |password: &str| {
        http.post(&login_url).header("cookie", &cookie).form(&[
            ("request", request.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", password),
        ])
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..24 {
        let (request, tx) = (login("wrong password!!"), tx.clone());
        tokio::spawn(async move {
            let reply = request.send().await.unwrap();
            let retry_after = reply.headers().contains_key("retry-after");
            tx.send((reply.status().as_u16(), retry_after)).unwrap();
        });
    }
    // The right password goes 25th, as soon as the throttle has refused one guess of
    // the burst (or, as before the fix, once all of them were answered).
    let mut answers = Vec::new();
    while answers.len() < 24 && !answers.iter().any(|&(status, _)| status == 429) {
        answers.push(rx.recv().await.unwrap());
    }
    let right = login(PASSWORD).send().await.unwrap();
    assert_eq!(right.status().as_u16(), 429, "the right password signed in");
    assert!(right.headers().contains_key("retry-after"));
    assert!(!right.headers().contains_key("set-cookie"));
    while answers.len() < 24 {
        answers.push(rx.recv().await.unwrap());
    }
    let checked = answers.iter().filter(|&&(status, _)| status == 401).count();
    let throttled = answers
        .iter()
        .filter(|&&(status, retry_after)| status == 429 && retry_after)
        .count();
    assert_eq!((checked, throttled), (3, 21), "{answers:?}");

    let events = s.app.audit("action=user.login").await;
    let reasons = |reason: &str| {
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .count()
    };
    assert_eq!(reasons("bad_credentials"), 3);
    assert_eq!(reasons("throttled"), 22);
    assert!(events.iter().all(|e| e.outcome == "denied"));
}

#[tokio::test]
async fn a_request_object_is_refused_back_to_the_client_not_ignored() {
    let s = setup().await;
    let mut browser = Browser::new();
    let by_value = authorize_url(&s, "&request=eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0.");
    let back = location(&browser.get(&by_value).await);
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("request_not_supported")
    );
    assert_eq!(param(&back, "state").as_deref(), Some("st-42"));
    let by_reference = authorize_url(&s, "&request_uri=https%3A%2F%2Fapp.example.com%2Freq");
    let back = location(&browser.get(&by_reference).await);
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("request_uri_not_supported")
    );
}
