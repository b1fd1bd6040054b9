//! The HTML pages of the authorization flow: sign-in, consent, and errors that must
//! not be redirected to the client.
//!
//! Rendered on the server, with inline CSS, no scripts and no external assets, so the
//! Content-Security-Policy can forbid everything else. Every value that reaches a page
//! passes through [`escape`]: client names, usernames and scopes are chosen by other
//! people and must never become markup.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::oauth::VerifiedRedirect;
use std::fmt::Write;
use std::time::Duration;

/// The policy of every page: nothing may load but the inline style, and forms may
/// only post back here.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Laid out for a narrow column that also suits phones; colours keep WCAG AA contrast
/// in both light and dark schemes, and focus stays visible.
const STYLE: &str = "\
:root{color-scheme:light dark;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;line-height:1.5}\
body{margin:0;padding:2rem 1rem;background:Canvas;color:CanvasText}\
main{max-width:26rem;margin:0 auto}\
h1{font-size:1.5rem;margin:0 0 1rem}\
h2{font-size:1rem;margin:1.5rem 0 .5rem}\
label{display:block;font-weight:600;margin-top:1rem}\
input{box-sizing:border-box;width:100%;padding:.6rem;margin-top:.25rem;font:inherit;border:1px solid #767676;border-radius:4px}\
button{font:inherit;padding:.6rem 1.2rem;margin-top:1.5rem;margin-right:.5rem;border-radius:4px;border:1px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer}\
button.secondary{background:transparent;color:inherit;border-color:#767676}\
:focus-visible{outline:3px solid #f9a825;outline-offset:2px}\
.error{border-left:4px solid #b3261e;padding:.5rem .75rem;background:#b3261e1a}\
.note{font-size:.9rem;margin-top:2rem}";

/// `text` made safe for HTML text and for quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The sign-in page for pending request `request_id`: `POST /oauth/authorize/login`
/// with `request`, `csrf`, `username` and `password`. `error`, if any, is announced
/// to screen readers as an alert.
pub fn login(
    client_name: &str,
    request_id: &str,
    csrf: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let mut main = format!(
        "<h1>Sign in</h1>\n<p>to continue to <strong>{}</strong></p>\n",
        escape(client_name)
    );
    let described = match error {
        Some(message) => {
            let _ = writeln!(
                main,
                r#"<p class="error" role="alert" id="login-error">{}</p>"#,
                escape(message)
            );
            r#" aria-describedby="login-error" aria-invalid="true""#
        }
        None => "",
    };
    // Focus goes to the first field that still needs typing.
    let (focus_user, focus_password) = if username.is_empty() {
        (" autofocus", "")
    } else {
        ("", " autofocus")
    };
    let _ = write!(
        main,
        r#"<form method="post" action="/oauth/authorize/login">
{hidden}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="{username}"{described}{focus_user}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{described}{focus_password}>
<button type="submit">Sign in</button>
</form>
"#,
        hidden = hidden_fields(request_id, csrf),
        username = escape(username),
    );
    page(StatusCode::OK, base_csp(), "Sign in", &main)
}

/// The consent page: which client asks, for whom, and for which scopes;
/// `POST /oauth/authorize/consent` with `request`, `csrf` and `decision` (`approve` or
/// `deny`).
///
/// `redirect` is where the decision will send the browser. Chrome and Safari apply
/// the page's `form-action` to the redirect that answers the form too, so the policy
/// names the redirect's origin beside `'self'` (w3c/webappsec-csp#8); without it the
/// user's click would silently go nowhere.
pub fn consent(
    client_name: &str,
    user: &str,
    scopes: &[&str],
    request_id: &str,
    csrf: &str,
    redirect: &VerifiedRedirect,
) -> Response {
    let client = escape(client_name);
    let mut main = format!(
        "<h1>Allow access?</h1>\n<p><strong>{client}</strong> is asking for access to your account. You are signed in as <strong>{}</strong>.</p>\n",
        escape(user)
    );
    if scopes.is_empty() {
        main.push_str("<p>It asks for no particular permissions.</p>\n");
    } else {
        main.push_str(
            "<h2 id=\"scopes\">It asks for these permissions:</h2>\n<ul aria-labelledby=\"scopes\">\n",
        );
        for scope in scopes {
            let _ = writeln!(main, "<li><code>{}</code></li>", escape(scope));
        }
        main.push_str("</ul>\n");
    }
    let _ = write!(
        main,
        r#"<form method="post" action="/oauth/authorize/consent">
{hidden}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="note">Either way you will be returned to <strong>{destination}</strong>.</p>
"#,
        hidden = hidden_fields(request_id, csrf),
        destination = escape(destination(redirect.as_str())),
    );
    let csp = match redirect_source(redirect.as_str()) {
        Some(source) => HeaderValue::try_from(CSP.replacen(
            "form-action 'self'",
            &format!("form-action 'self' {source}"),
            1,
        ))
        .unwrap_or_else(|_| base_csp()),
        None => base_csp(),
    };
    page(StatusCode::OK, csp, "Allow access?", &main)
}

/// A page for a request that cannot be answered by redirecting to the client, such as
/// an unknown client or an unregistered redirect URI (RFC 6749 §4.1.2.1).
pub fn error(status: StatusCode, title: &str, message: &str) -> Response {
    let main = format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(message));
    page(status, base_csp(), title, &main)
}

/// A 429 for a throttled sign-in, with `Retry-After` in whole seconds (at least one).
pub fn locked(retry_after: Duration) -> Response {
    let secs = retry_after
        .as_secs()
        .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
        .max(1);
    let wait = if secs == 1 {
        "1 second".to_owned()
    } else if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", secs.div_ceil(60))
    };
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts",
        &format!("Wait {wait}, then go back and try again."),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

fn base_csp() -> HeaderValue {
    HeaderValue::from_static(CSP)
}

fn hidden_fields(request_id: &str, csrf: &str) -> String {
    format!(
        r#"<input type="hidden" name="request" value="{}">
<input type="hidden" name="csrf" value="{}">"#,
        escape(request_id),
        escape(csrf)
    )
}

/// The page around `main`, with the headers every page carries.
fn page(status: StatusCode, csp: HeaderValue, title: &str, main: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Gatehouse</title>
<style>{STYLE}</style>
</head>
<body>
<main>
{main}</main>
</body>
</html>
"#,
        title = escape(title),
    );
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::CONTENT_SECURITY_POLICY, csp),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (status, headers, html).into_response()
}

/// What the user is told they will return to: the scheme and host, not the path.
fn destination(uri: &str) -> &str {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return uri;
    };
    match rest.strip_prefix("//") {
        Some(after) => {
            let authority = after.split(['/', '?']).next().unwrap_or(after);
            uri.get(..scheme.len() + 3 + authority.len()).unwrap_or(uri)
        }
        None => scheme,
    }
}

/// The CSP source that admits the redirect to `uri`: its origin, or for a
/// private-use scheme (`com.example.app:/cb`) and for IPv6 literals, which host
/// sources cannot spell, its scheme. `None` if it has characters a policy must not
/// contain (none a verified redirect URI can have).
fn redirect_source(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return None;
    }
    let Some(after) = rest.strip_prefix("//") else {
        return Some(format!("{scheme}:"));
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or(after);
    if authority.starts_with('[') {
        return Some(format!("{scheme}:"));
    }
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
    authority_ok.then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::oauth::{ClientKind, RedirectUri, verify_redirect};

    const HOSTILE: &str = "<script>alert(1)</script>";
    const ATTRIBUTE_BREAK: &str = "\"onmouseover=alert(1) x='";

    fn redirect(uri: &str) -> VerifiedRedirect {
        let registered = [RedirectUri::parse(uri).unwrap()];
        verify_redirect(&registered, uri, ClientKind::Native).unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn assert_safe(html: &str) {
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("\"onmouseover="), "{html}");
        assert!(!html.contains("'onmouseover="), "{html}");
        assert_eq!(html.matches("<h1>").count(), 1, "{html}");
        assert!(html.contains(r#"<html lang="en">"#));
    }

    fn assert_security_headers(response: &Response) {
        let h = response.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} lacks {directive}");
        }
    }

    #[test]
    fn escape_replaces_all_five_special_characters() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(escape("plain é text"), "plain é text");
    }

    #[tokio::test]
    async fn the_login_page_escapes_what_others_chose() {
        let response = login(HOSTILE, "req1", "csrf1", ATTRIBUTE_BREAK, Some(HOSTILE));
        let html = body(response).await;
        assert_safe(&html);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("value=\"&quot;onmouseover=alert(1) x=&#39;\""));
    }

    #[tokio::test]
    async fn the_login_form_posts_the_hidden_fields_and_labelled_inputs() {
        let response = login("App", "req1", "csrf1", "", None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_security_headers(&response);
        let html = body(response).await;
        assert!(html.contains(r#"<form method="post" action="/oauth/authorize/login">"#));
        assert!(html.contains(r#"<input type="hidden" name="request" value="req1">"#));
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="csrf1">"#));
        assert!(html.contains(r#"<label for="username">"#));
        assert!(html.contains(r#"id="username" name="username""#));
        assert!(html.contains(r#"autocomplete="username""#));
        assert!(html.contains(r#"<label for="password">"#));
        assert!(html.contains(
            r#"id="password" name="password" type="password" autocomplete="current-password""#
        ));
        assert!(!html.contains("role=\"alert\""));
    }

    #[tokio::test]
    async fn a_login_error_is_an_alert_tied_to_the_inputs() {
        let html = body(login("App", "r", "c", "alice", Some("Wrong password."))).await;
        assert!(html.contains(r#"role="alert" id="login-error">Wrong password.</p>"#));
        assert!(html.contains(r#"value="alice" aria-describedby="login-error""#));
    }

    #[tokio::test]
    async fn the_consent_page_lists_scopes_and_offers_both_decisions() {
        let uri = redirect("https://app.example/cb?x=1");
        let response = consent(
            HOSTILE,
            ATTRIBUTE_BREAK,
            &["openid", HOSTILE],
            "req1",
            "csrf1",
            &uri,
        );
        assert_security_headers(&response);
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].clone();
        assert!(
            csp.to_str()
                .unwrap()
                .contains("form-action 'self' https://app.example;")
        );
        let html = body(response).await;
        assert_safe(&html);
        assert!(html.contains(r#"<form method="post" action="/oauth/authorize/consent">"#));
        assert!(html.contains(r#"<input type="hidden" name="request" value="req1">"#));
        assert!(html.contains(r#"<input type="hidden" name="csrf" value="csrf1">"#));
        assert!(html.contains(r#"name="decision" value="approve""#));
        assert!(html.contains(r#"name="decision" value="deny""#));
        assert!(html.contains("<li><code>openid</code></li>"));
        assert!(html.contains("returned to <strong>https://app.example</strong>"));
    }

    #[test]
    fn the_consent_policy_admits_exactly_the_redirect_target() {
        assert_eq!(
            redirect_source("http://127.0.0.1:51234/cb").as_deref(),
            Some("http://127.0.0.1:51234")
        );
        assert_eq!(
            redirect_source("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(
            redirect_source("http://[::1]:8080/cb").as_deref(),
            Some("http:")
        );
        assert_eq!(redirect_source("https://a.example;script-src *"), None);
        assert_eq!(redirect_source("1bad:/x"), None);
    }

    #[tokio::test]
    async fn an_error_page_carries_its_status_and_escapes_its_text() {
        let response = error(StatusCode::BAD_REQUEST, HOSTILE, ATTRIBUTE_BREAK);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_security_headers(&response);
        let html = body(response).await;
        assert_safe(&html);
        assert!(!html.contains("<form"));
    }

    #[tokio::test]
    async fn a_throttled_sign_in_gets_429_and_retry_after_rounded_up() {
        let response = locked(Duration::from_millis(1500));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_security_headers(&response);
        assert!(body(response).await.contains("Wait 2 seconds"));
        let response = locked(Duration::from_secs(15 * 60));
        assert_eq!(response.headers()[header::RETRY_AFTER], "900");
        assert!(body(response).await.contains("Wait 15 minutes"));
        let response = locked(Duration::from_millis(300));
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(body(response).await.contains("Wait 1 second,"));
    }
}
