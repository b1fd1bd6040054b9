//! The authorization code flow's pages (RFC 6749 §4.1, PKCE required, OIDC Core
//! §3.1.2): `GET /oauth/authorize` checks the request, then shows the login page, or
//! with a session the consent page, or — consent already given for these scopes — goes
//! straight back to the client with a code. `login` checks the password; `consent`
//! asks and answers the client with a code or `access_denied`.
//!
//! Forms are protected by a double-submit CSRF token: the same random value in a
//! hidden field, in a `SameSite` cookie and in the pending request, so another site can
//! neither post a form here nor log the browser into someone else's account. Every
//! POST answers 303 on success. Unknown clients and unregistered redirect URIs get an
//! error page, never a redirect.

mod consent;
mod login;
mod respond;

pub use consent::{consent, consent_form};
pub use login::login;

use super::pages;
use crate::authorization::pending::PendingRequest;
use crate::authorization::sessions::COOKIE as SESSION_COOKIE;
use crate::state::{AppState, RequestContext};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::oauth::authorize::{AuthorizeError, AuthorizeParams, check};
use gatehouse_core::user::UserRecord;
use respond::{cookie, expired, finish, redirect_to_client, set_cookie, unavailable};
use serde::Deserialize;
use std::sync::Arc;

/// The cookie holding the pending request's CSRF token.
const CSRF_COOKIE: &str = "gatehouse_csrf";

/// The query of `GET /oauth/authorize` (other parameters are ignored, RFC 6749 §3.1;
/// `request` and `request_uri` are read only to be refused).
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
    prompt: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
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
    event.principal = q.client_id.as_deref().map(Into::into);
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
        prompt: q.prompt,
        request: q.request,
        request_uri: q.request_uri,
    };
    let auth = check(&params, client.as_deref()).map_err(|e| refusal(state, e, event))?;
    let signed_in = if auth.prompt.login {
        None
    } else {
        session_user(state, headers).await
    };
    if let Some(signed_in) = &signed_in
        && !auth.prompt.consent
        && consent::remembered(state, &signed_in.user, &auth).await
    {
        return Ok(consent::issue_code(
            state,
            &auth,
            signed_in,
            "consent_remembered",
            event,
        ));
    }
    if auth.prompt.none {
        // OIDC Core §3.1.2.6: a page would be needed, and none may be shown.
        let error = if signed_in.is_some() {
            "consent_required"
        } else {
            "login_required"
        };
        event.reason = Some(error.into());
        return Err(redirect_to_client(
            state,
            auth.redirect_uri.as_str(),
            &[("error", error)],
            auth.state.as_deref(),
        ));
    }
    let now = state.clock.now();
    let pending = state
        .authorizations
        .pending
        .create(auth, now)
        .map_err(|_| unavailable(event))?;
    let client_name = client.as_ref().map_or("", |c| c.name.as_str());
    event.outcome = Outcome::Allowed;
    let mut response = match signed_in {
        Some(signed_in) => {
            state
                .authorizations
                .pending
                .set_user(&pending.id, &signed_in.user.id, now);
            event.reason = Some("consent_asked".into());
            consent::page(client_name, &signed_in.user, &pending)
        }
        None => {
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

/// The user signed in on this browser.
struct SignedIn {
    /// Their account, which still exists and is enabled.
    user: UserRecord,
    /// When they signed in: the OpenID Connect `auth_time`.
    auth_time: UnixTime,
}

/// The user of a live session whose account still exists and is enabled.
async fn session_user(state: &AppState, headers: &HeaderMap) -> Option<SignedIn> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let session = state
        .authorizations
        .sessions
        .get(&value, state.clock.now())?;
    let user = state.store.user(&session.user_id).await.ok()??;
    user.enabled.then_some(SignedIn {
        user,
        auth_time: session.created_at,
    })
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
