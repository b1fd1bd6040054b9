//! `POST /oauth/authorize/login`: a password checked for a pending request, once the
//! login throttle has reserved the attempt, at the cost of one Argon2id hash whether or
//! not the username exists; success opens a browser session and goes on to consent.

use super::respond::{finish, malformed_form, see_other, set_cookie, unavailable};
use super::{FormRefusal, client_name, pages, pending_for};
use crate::authorization::sessions::COOKIE as SESSION_COOKIE;
use crate::authorization::throttle::Verdict;
use crate::state::{AppState, RequestContext};
use axum::Extension;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::Secret;
use gatehouse_core::audit::{EventBody, Outcome};
use gatehouse_core::user::Username;
use serde::Deserialize;
use std::sync::Arc;

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
    event.target = Some(pending.authorization.client_id.as_str().into());
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
    // Reserved before the hash: a burst of guesses cannot all be checked against a
    // count none of them has raised yet, and a refused one is never checked.
    let verdict = state
        .authorizations
        .throttle
        .attempt(&form.username, ip, now);
    if verdict != Verdict::Allow {
        event.reason = Some("throttled".into());
        return Err(pages::locked(verdict.retry_after(now)));
    }
    let user = match Username::parse(&form.username) {
        Ok(name) => state
            .store
            .user_by_username(&name)
            .await
            .map_err(|_| unavailable(event))?,
        Err(_) => None,
    };
    event.principal = user.as_ref().map(|u| u.id.as_str().into());
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
        // The reservation stays as the failure.
        other => {
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
    event.credential_id = Some(user.id.as_str().into());
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
