//! Consent: the page that asks the signed-in user, their answer, and the code that an
//! approval buys. An approval is remembered per user and client (the store's
//! `consents`), so the page is shown again only when the client asks for a scope not
//! approved before, or with `prompt=consent`. Withdrawing it is an admin action
//! (`DELETE /admin/v1/users/{id}/consents/{client}`).

use super::respond::{expired, finish, malformed_form, redirect_to_client, unavailable};
use super::{FormRefusal, SignedIn, client_name, pages, pending_for, session_user};
use crate::authorization::codes::CodeGrant;
use crate::authorization::pending::PendingRequest;
use crate::state::{AppState, RequestContext};
use axum::Extension;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::oauth::authorize::Authorization;
use gatehouse_core::oauth::oidc::user_grantable;
use gatehouse_core::user::{Consent, UserRecord};
use serde::Deserialize;
use std::sync::Arc;

/// The query of the consent page.
#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    request: String,
}

/// `GET /oauth/authorize/consent` — ask the logged-in user (where the login form
/// leads), or answer at once when they approved these scopes before.
pub async fn consent_form(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return expired();
    };
    let now = state.clock.now();
    let (Some(pending), Some(signed_in)) = (
        state.authorizations.pending.get(&q.request, now),
        session_user(&state, &headers).await,
    ) else {
        return expired();
    };
    if pending.user_id.as_deref() != Some(signed_in.user.id.as_str()) {
        return expired();
    }
    let auth = &pending.authorization;
    if auth.prompt.consent || !remembered(&state, &signed_in.user, auth).await {
        return page(&client_name(&state, &pending), &signed_in.user, &pending);
    }
    let mut event = ctx.event(now, "oauth.consent", Outcome::Denied, 0);
    event.principal = Some(signed_in.user.id.as_str().into());
    event.target = Some(auth.client_id.as_str().into());
    // Taken, not read: a request is answered once, whatever the answer.
    let response = match state.authorizations.pending.take(&pending.id, now) {
        Some(pending) => issue_code(
            &state,
            &pending.authorization,
            &signed_in,
            "consent_remembered",
            &mut event,
        ),
        None => expired(),
    };
    finish(&state, event, response).await
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
    let signed_in = session_user(state, headers)
        .await
        .filter(|s| pending.user_id.as_deref() == Some(s.user.id.as_str()))
        .ok_or_else(|| {
            event.reason = Some("no_session".into());
            expired()
        })?;
    event.principal = Some(signed_in.user.id.as_str().into());
    event.target = Some(pending.authorization.client_id.as_str().into());
    let now = state.clock.now();
    // Taken, not read: a request is answered once, whatever the answer.
    let pending = state
        .authorizations
        .pending
        .take(&pending.id, now)
        .ok_or_else(expired)?;
    let auth = &pending.authorization;
    if form.decision != "approve" {
        event.reason = Some("access_denied".into());
        return Err(redirect_to_client(
            state,
            auth.redirect_uri.as_str(),
            &[
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ],
            auth.state.as_deref(),
        ));
    }
    let response = issue_code(state, auth, &signed_in, "approved", event);
    if event.outcome == Outcome::Allowed {
        remember(state, &signed_in.user, auth).await;
    }
    Ok(response)
}

/// Whether `user` approved before every scope `auth` would give them.
pub(super) async fn remembered(state: &AppState, user: &UserRecord, auth: &Authorization) -> bool {
    let scopes = user_grantable(&auth.scopes, user);
    if scopes.is_empty() {
        return false;
    }
    match state.store.consent(&user.id, &auth.client_id).await {
        Ok(consent) => consent.is_some_and(|c| c.covers(&scopes)),
        Err(e) => {
            tracing::error!(error = %e, "consent lookup failed; asking again");
            false
        }
    }
}

/// Adds what `user` just approved to their consent for the client. A failure is
/// logged and costs the user one more question next time.
async fn remember(state: &AppState, user: &UserRecord, auth: &Authorization) {
    let now = state.clock.now();
    let approved = user_grantable(&auth.scopes, user);
    let result = async {
        let previous = state.store.consent(&user.id, &auth.client_id).await?;
        let consent =
            Consent::approve(&user.id, &auth.client_id, previous.as_ref(), &approved, now);
        state.store.put_consent(&consent).await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not remember a consent");
    }
}

/// A code for `auth` on behalf of `signed_in`, sent to the client's redirect URI;
/// `invalid_scope` there when the user can grant none of the scopes. The event says
/// which: allowed only when a code was issued.
pub(super) fn issue_code(
    state: &AppState,
    auth: &Authorization,
    signed_in: &SignedIn,
    why: &str,
    event: &mut EventBody,
) -> Response {
    let scopes = user_grantable(&auth.scopes, &signed_in.user);
    event.principal = Some(signed_in.user.id.as_str().into());
    if scopes.is_empty() {
        event.reason = Some("invalid_scope".into());
        return redirect_to_client(
            state,
            auth.redirect_uri.as_str(),
            &[
                ("error", "invalid_scope"),
                (
                    "error_description",
                    "the user holds none of the requested scopes",
                ),
            ],
            auth.state.as_deref(),
        );
    }
    let now = state.clock.now();
    let code = match state.authorizations.codes.issue(
        CodeGrant {
            client_id: auth.client_id.clone(),
            redirect_uri: auth.redirect_uri.as_str().to_owned(),
            user_id: signed_in.user.id.clone(),
            scopes: scopes.clone(),
            challenge: auth.challenge.clone(),
            nonce: auth.nonce.clone(),
            auth_time: signed_in.auth_time,
        },
        now,
    ) {
        Ok(code) => code,
        Err(_) => return unavailable(event),
    };
    event.outcome = Outcome::Allowed;
    event.reason = Some(format!("{why}: {}", scopes.to_space_separated()).into());
    redirect_to_client(
        state,
        auth.redirect_uri.as_str(),
        &[("code", &code)],
        auth.state.as_deref(),
    )
}

/// The consent page for a pending request.
pub(super) fn page(client_name: &str, user: &UserRecord, pending: &PendingRequest) -> Response {
    let scopes = user_grantable(&pending.authorization.scopes, user);
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
