//! The authorization code flow's pages (RFC 6749 §4.1, PKCE required):
//! `GET /oauth/authorize` checks the request and shows the login page (or, with a
//! session, the consent page); `POST /oauth/authorize/login` checks the password;
//! `GET /oauth/authorize/consent` asks; `POST /oauth/authorize/consent` answers the
//! client with a code or `access_denied`.
//!
//! Forms are protected by a double-submit CSRF token: the same random value in a
//! hidden field, in a `SameSite` cookie and in the pending request, so another site can
//! neither post a form here nor log the browser into someone else's account. Every
//! POST answers 303 on success. Unknown clients and unregistered redirect URIs get an
//! error page, never a redirect.

use super::pages;
use crate::authorization::codes::CodeGrant;
use crate::authorization::pending::PendingRequest;
use crate::authorization::sessions::COOKIE as SESSION_COOKIE;
use crate::authorization::throttle::Verdict;
use crate::state::{AppState, RequestContext};
use axum::Extension;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Secret;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::oauth::authorize::{AuthorizeError, AuthorizeParams, check, with_query};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::{UserRecord, Username};
use serde::Deserialize;
use std::sync::Arc;

/// The cookie holding the pending request's CSRF token.
const CSRF_COOKIE: &str = "gatehouse_csrf";

/// The query of `GET /oauth/authorize` (other parameters are ignored, RFC 6749 §3.1).
#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
}

/// `GET /oauth/authorize` — start the authorization code flow.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), "oauth.authorize", Outcome::Denied, 0);
    let response = match start(&state, &headers, query, &mut event).await {
        Ok(response) => response,
        Err(response) => response,
    };
    finish(&state, event, response).await
}

async fn start(
    state: &AppState,
    headers: &HeaderMap,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
    event: &mut EventBody,
) -> Result<Response, Response> {
    let Query(q) = query.map_err(|_| {
        event.reason = Some("malformed_request".into());
        pages::error(
            StatusCode::BAD_REQUEST,
            "Malformed request",
            "The sign-in request is malformed (a parameter is repeated or unreadable).",
        )
    })?;
    event.principal.clone_from(&q.client_id);
    let client = q.client_id.as_deref().and_then(|id| state.clients.get(id));
    let params = AuthorizeParams {
        response_type: q.response_type,
        client_id: q.client_id,
        redirect_uri: q.redirect_uri,
        scope: q.scope,
        state: q.state,
        code_challenge: q.code_challenge,
        code_challenge_method: q.code_challenge_method,
        nonce: q.nonce,
    };
    let auth = check(&params, client.as_deref()).map_err(|e| refusal(state, e, event))?;
    let now = state.clock.now();
    let pending = state
        .authorizations
        .pending
        .create(auth, now)
        .map_err(|_| unavailable(event))?;
    let client_name = client.as_ref().map_or("", |c| c.name.as_str());
    let mut response = match session_user(state, headers).await {
        Some(user) => {
            state
                .authorizations
                .pending
                .set_user(&pending.id, &user.id, now);
            event.outcome = Outcome::Allowed;
            event.reason = Some("consent_asked".into());
            consent_page(client_name, &user, &pending)
        }
        None => {
            event.outcome = Outcome::Allowed;
            event.reason = Some("login_asked".into());
            pages::login(client_name, &pending.id, &pending.csrf, "", None)
        }
    };
    set_cookie(
        &mut response,
        CSRF_COOKIE,
        &pending.csrf,
        "/oauth/authorize",
        state,
    );
    Ok(response)
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    request: String,
    csrf: String,
    username: String,
    password: String,
}

/// `POST /oauth/authorize/login` — check a password for a pending request.
pub async fn login(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), "user.login", Outcome::Denied, 0);
    event.auth_method = Some("password".into());
    let response = match check_login(&state, &headers, form, &ctx, &mut event).await {
        Ok(response) | Err(response) => response,
    };
    finish(&state, event, response).await
}

async fn check_login(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
    ctx: &RequestContext,
    event: &mut EventBody,
) -> Result<Response, Response> {
    let Form(form) = form.map_err(|_| malformed_form(event))?;
    let now = state.clock.now();
    let pending = pending_for(state, headers, &form.request, &form.csrf, event)
        .map_err(FormRefusal::response)?;
    event.target = Some(pending.authorization.client_id.clone());
    let client_name = client_name(state, &pending);
    let ip: std::net::IpAddr = ctx
        .client_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let login_page = |error: &str, status: StatusCode| {
        let mut page = pages::login(
            &client_name,
            &pending.id,
            &pending.csrf,
            &form.username,
            Some(error),
        );
        *page.status_mut() = status;
        page
    };
    match state.authorizations.throttle.check(&form.username, ip, now) {
        Verdict::Allow => {}
        Verdict::Delay(delay) => tokio::time::sleep(delay).await,
        Verdict::Locked { until } => {
            event.reason = Some("locked".into());
            let wait = until.as_millis().saturating_sub(now.as_millis()).max(0);
            return Err(pages::locked(std::time::Duration::from_millis(
                u64::try_from(wait).unwrap_or(0),
            )));
        }
    }
    let user = match Username::parse(&form.username) {
        Ok(name) => state
            .store
            .user_by_username(&name)
            .await
            .map_err(|_| unavailable(event))?,
        Err(_) => None,
    };
    event.principal = user.as_ref().map(|u| u.id.clone());
    // Unknown users cost a hash too, so timing does not tell which usernames exist.
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    let matches = state
        .passwords
        .verify(Secret::new(form.password), stored)
        .await
        .unwrap_or(false);
    let user = match user {
        Some(user) if matches && user.enabled && user.password_hash.is_some() => user,
        other => {
            state
                .authorizations
                .throttle
                .record_failure(&form.username, ip, now);
            event.reason = Some(
                if other.is_some_and(|u| matches && !u.enabled) {
                    "disabled"
                } else {
                    "bad_credentials"
                }
                .into(),
            );
            return Err(login_page(
                "Wrong username or password.",
                StatusCode::UNAUTHORIZED,
            ));
        }
    };
    state
        .authorizations
        .throttle
        .record_success(&form.username, ip);
    let (cookie, _) = state
        .authorizations
        .sessions
        .create(&user.id, now)
        .map_err(|_| unavailable(event))?;
    state
        .authorizations
        .pending
        .set_user(&pending.id, &user.id, now);
    event.outcome = Outcome::Allowed;
    event.credential_id = Some(user.id.clone());
    let mut response = see_other(&format!("/oauth/authorize/consent?request={}", pending.id));
    set_cookie(
        &mut response,
        SESSION_COOKIE,
        &cookie,
        "/oauth/authorize",
        state,
    );
    Ok(response)
}

/// The query of the consent page.
#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    request: String,
}

/// `GET /oauth/authorize/consent` — ask the logged-in user.
pub async fn consent_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return expired();
    };
    let now = state.clock.now();
    let (Some(pending), Some(user)) = (
        state.authorizations.pending.get(&q.request, now),
        session_user(&state, &headers).await,
    ) else {
        return expired();
    };
    if pending.user_id.as_deref() != Some(user.id.as_str()) {
        return expired();
    }
    consent_page(&client_name(&state, &pending), &user, &pending)
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    request: String,
    csrf: String,
    decision: String,
}

/// `POST /oauth/authorize/consent` — approve (a code) or deny (`access_denied`).
pub async fn consent(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), "oauth.consent", Outcome::Denied, 0);
    let response = match decide(&state, &headers, form, &mut event).await {
        Ok(response) | Err(response) => response,
    };
    finish(&state, event, response).await
}

async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
    event: &mut EventBody,
) -> Result<Response, Response> {
    let Form(form) = form.map_err(|_| malformed_form(event))?;
    let pending = pending_for(state, headers, &form.request, &form.csrf, event)
        .map_err(FormRefusal::response)?;
    let user = session_user(state, headers)
        .await
        .filter(|u| pending.user_id.as_deref() == Some(u.id.as_str()))
        .ok_or_else(|| {
            event.reason = Some("no_session".into());
            expired()
        })?;
    event.principal = Some(user.id.clone());
    event.target = Some(pending.authorization.client_id.clone());
    let now = state.clock.now();
    // Taken, not read: a request is answered once, whatever the answer.
    let pending = state
        .authorizations
        .pending
        .take(&pending.id, now)
        .ok_or_else(expired)?;
    let auth = &pending.authorization;
    let back = |error: &str, description: &str| {
        redirect_to_client(
            state,
            auth.redirect_uri.as_str(),
            &[("error", error), ("error_description", description)],
            auth.state.as_deref(),
        )
    };
    let scopes = user_scopes(&auth.scopes, &user);
    if form.decision != "approve" {
        event.reason = Some("access_denied".into());
        return Err(back("access_denied", "the user denied the request"));
    }
    if scopes.is_empty() {
        event.reason = Some("invalid_scope".into());
        return Err(back(
            "invalid_scope",
            "the user holds none of the requested scopes",
        ));
    }
    let code = state
        .authorizations
        .codes
        .issue(
            CodeGrant {
                client_id: auth.client_id.clone(),
                redirect_uri: auth.redirect_uri.as_str().to_owned(),
                user_id: user.id.clone(),
                scopes: scopes.clone(),
                challenge: auth.challenge.clone(),
                nonce: auth.nonce.clone(),
                auth_time: now,
            },
            now,
        )
        .map_err(|_| unavailable(event))?;
    event.outcome = Outcome::Allowed;
    event.reason = Some(format!("approved: {}", scopes.to_space_separated()));
    Ok(redirect_to_client(
        state,
        auth.redirect_uri.as_str(),
        &[("code", &code)],
        auth.state.as_deref(),
    ))
}

/// Why a form is not taken: its request expired, or it did not come from our page.
#[derive(Debug, Clone, Copy)]
enum FormRefusal {
    Expired,
    Csrf,
}

impl FormRefusal {
    fn response(self) -> Response {
        match self {
            Self::Expired => expired(),
            Self::Csrf => pages::error(
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form was not sent from this sign-in page. Start again from the app.",
            ),
        }
    }
}

/// The pending request `id`, if the form's CSRF token matches it and the cookie.
fn pending_for(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    csrf: &str,
    event: &mut EventBody,
) -> Result<PendingRequest, FormRefusal> {
    let Some(pending) = state.authorizations.pending.get(id, state.clock.now()) else {
        event.reason = Some("request_expired".into());
        return Err(FormRefusal::Expired);
    };
    let cookie = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    if !(pending.csrf_matches(csrf) && pending.csrf_matches(&cookie)) {
        event.reason = Some("csrf".into());
        return Err(FormRefusal::Csrf);
    }
    Ok(pending)
}

fn consent_page(client_name: &str, user: &UserRecord, pending: &PendingRequest) -> Response {
    let scopes = user_scopes(&pending.authorization.scopes, user);
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let shown = user
        .display_name
        .as_deref()
        .unwrap_or(user.username.as_str());
    pages::consent(
        client_name,
        shown,
        &names,
        &pending.id,
        &pending.csrf,
        &pending.authorization.redirect_uri,
    )
}

/// What the user can grant of what the client asked: the intersection.
fn user_scopes(requested: &ScopeSet, user: &UserRecord) -> ScopeSet {
    ScopeSet::new(
        requested
            .iter()
            .filter(|s| user.scopes.contains(s.as_str()))
            .cloned(),
    )
}

/// The user of a live session whose account still exists and is enabled.
async fn session_user(state: &AppState, headers: &HeaderMap) -> Option<UserRecord> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let session = state
        .authorizations
        .sessions
        .get(&value, state.clock.now())?;
    let user = state.store.user(&session.user_id).await.ok()??;
    user.enabled.then_some(user)
}

fn client_name(state: &AppState, pending: &PendingRequest) -> String {
    state
        .clients
        .get(&pending.authorization.client_id)
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

fn refusal(state: &AppState, error: AuthorizeError, event: &mut EventBody) -> Response {
    match error {
        AuthorizeError::Page { code, message } => {
            event.reason = Some(code.into());
            pages::error(
                StatusCode::BAD_REQUEST,
                "This sign-in request cannot continue",
                &message,
            )
        }
        AuthorizeError::Redirect {
            redirect_uri,
            error,
            description,
            state: client_state,
        } => {
            event.reason = Some(error.into());
            redirect_to_client(
                state,
                &redirect_uri,
                &[("error", error), ("error_description", &description)],
                client_state.as_deref(),
            )
        }
    }
}

/// A 303 to the client's redirect URI with `pairs`, `state` and `iss` (RFC 9207).
fn redirect_to_client(
    state: &AppState,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    client_state: Option<&str>,
) -> Response {
    let mut all: Vec<(&str, &str)> = pairs.to_vec();
    if let Some(s) = client_state {
        all.push(("state", s));
    }
    all.push(("iss", &state.settings.public_url));
    see_other(&with_query(redirect_uri, &all))
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn set_cookie(response: &mut Response, name: &str, value: &str, path: &str, state: &AppState) {
    // Lax, not Strict: the flow starts with a top-level navigation from the client's
    // site, which must carry the session. Secure whenever the issuer is https.
    let secure = if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

fn expired() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This sign-in request has expired",
        "Start again from the app you were signing in to.",
    )
}

fn malformed_form(event: &mut EventBody) -> Response {
    event.reason = Some("malformed_form".into());
    pages::error(
        StatusCode::BAD_REQUEST,
        "Malformed form",
        "The form could not be read.",
    )
}

fn unavailable(event: &mut EventBody) -> Response {
    event.reason = Some("unavailable".into());
    pages::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "Gatehouse cannot complete this request right now.",
    )
}

async fn finish(state: &AppState, mut event: EventBody, response: Response) -> Response {
    event.status = Some(response.status().as_u16());
    state.audit.record(event).await;
    response
}

/// An Argon2id hash of a random password nobody knows, verified against when the
/// username does not exist so that the answer takes as long either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$qnGbi9R1z0Hq7LQEMyvLBaxYVvYHeKlO9Pq7AguUZRI";

#[cfg(test)]
mod tests {
    use super::DUMMY_HASH;
    use gatehouse_core::Secret;
    use gatehouse_core::user::password;

    #[test]
    fn the_dummy_hash_costs_a_full_argon2id_check() {
        // An unreadable hash would fail fast and tell unknown usernames apart by time.
        assert!(!password::needs_rehash(DUMMY_HASH));
        let guess = Secret::new(String::from("correct horse battery staple"));
        assert_eq!(password::verify(&guess, DUMMY_HASH), Ok(false));
    }
}
