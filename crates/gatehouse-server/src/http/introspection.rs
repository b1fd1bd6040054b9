//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009) for
//! Gatehouse's own access and refresh tokens. Introspection takes an authenticated client or an
//! API key with `gatehouse:verify`; a client is told only about tokens that concern it
//! (core's `may_introspect`; a refresh token only to its own client), anyone else gets
//! `{"active": false}` as for an unknown token (RFC 7662 §4). Revocation takes the
//! client the token was issued to; another client's request is answered like an
//! unknown token's and revokes nothing (RFC 7009 §2.1). A revoked token is
//! deny-listed until it expires and is inactive at once.

use super::client_auth::{FormCredentials, authenticate};
use super::oauth_answer::answer;
use crate::access_tokens::Rejection;
use crate::listener::Peer;
use crate::refresh_tokens;
use crate::state::{AppState, RequestContext};
use crate::wire::credential::{self, CredentialError, Presented, Schemes};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gatehouse_core::api_key::ApiKey;
use gatehouse_core::audit::Outcome;
use gatehouse_core::jose::VerifiedToken;
use gatehouse_core::mtls::CertIdentity;
use gatehouse_core::oauth::refresh;
use gatehouse_core::oauth::{ClientRecord, OAuthError, may_introspect};
use gatehouse_core::scope::{Scope, VERIFY};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The form of both endpoints (other parameters are ignored).
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    token: Option<String>,
    #[serde(flatten)]
    credentials: FormCredentials,
}

/// `POST /oauth/introspect` — whether a token is active, and its claims if so.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 7662 request"),
    responses((status = 200, description = "RFC 7662 response"), (status = 401, description = "RFC 6749 error")))]
pub async fn introspect(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), "oauth.introspect", Outcome::Denied, 0);
    let result = async {
        let form = form_of(form)?;
        let cert = peer
            .as_ref()
            .and_then(|Extension(p)| p.client_cert.as_deref());
        let caller = introspector(&state, &headers, &form, cert)?;
        event.principal = Some(caller.id().into());
        let token = form
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("token is missing".into()))?;
        if refresh::parse(token).is_some() {
            let (body, reason) = refresh_introspection(&state, caller.id(), token).await?;
            return Ok((Json(body).into_response(), reason));
        }
        let checked = check(&state, token);
        let reason = match &checked {
            Ok(token) => {
                event.target = token.claims.jti.as_deref().map(Into::into);
                if !caller.may_introspect(token) {
                    // RFC 7662 §4: told nothing, exactly as for an unknown token.
                    let body = Json(introspection(None)).into_response();
                    return Ok((body, "not_permitted".to_owned()));
                }
                "active".to_owned()
            }
            Err(rejection) => format!("inactive: {}", rejection.reason()),
        };
        let body = Json(introspection(checked.ok().as_deref())).into_response();
        Ok((body, reason))
    }
    .await;
    answer(&state, event, result).await
}

/// `POST /oauth/revoke` — revoke an access token issued to the calling client.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 7009 request"),
    responses((status = 200, description = "Revoked, or not a valid token"), (status = "4XX", description = "RFC 6749 error")))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), "oauth.revoke", Outcome::Denied, 0);
    let result = async {
        let form = form_of(form)?;
        let cert = peer
            .as_ref()
            .and_then(|Extension(p)| p.client_cert.as_deref());
        let client = authenticate(&state, &headers, &form.credentials, cert)?;
        event.principal = Some(client.id.as_str().into());
        event.credential_id = Some(client.id.as_str().into());
        let token = form
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("token is missing".into()))?;
        if refresh::parse(token).is_some() {
            return revoke_refresh(&state, &client.id, token).await;
        }
        // RFC 7009 §2.2: an invalid, expired or already revoked token is not an error.
        let Ok(token) = check(&state, token) else {
            return Ok("not_active".to_owned());
        };
        event.target = token.claims.jti.as_deref().map(Into::into);
        if token.claims.client_id.as_deref() != Some(client.id.as_str()) {
            // RFC 7009 §2.1: not revoked, and answered as an unknown token is, so
            // the answer does not tell another client that the token is live.
            return Ok("not_permitted".to_owned());
        }
        state
            .access_tokens
            .revoke(state.store.as_ref(), &token)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "token revocation failed");
                OAuthError::ServerError("the revocation could not be stored; retry".into())
            })?;
        Ok("revoked".to_owned())
    }
    .await;
    let result = result.map(|reason| (StatusCode::OK.into_response(), reason));
    answer(&state, event, result).await
}

fn form_of(form: Result<Form<TokenForm>, FormRejection>) -> Result<TokenForm, OAuthError> {
    form.map(|Form(f)| f).map_err(|_| {
        OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded, each parameter once".into(),
        )
    })
}

fn check(state: &AppState, token: &str) -> Result<Arc<VerifiedToken>, Rejection> {
    state.access_tokens.verify(
        &state.signing_keys,
        token,
        &state.settings.public_url,
        state.clock.now(),
    )
}

/// Who asks to introspect.
enum Introspector {
    /// An authenticated confidential client.
    Client(Arc<ClientRecord>),
    /// An API key holding `gatehouse:verify` (its key id): a verification credential,
    /// told about every token as `POST /v1/keys/verify` is about every key.
    VerifyKey(String),
}

impl Introspector {
    fn id(&self) -> &str {
        match self {
            Self::Client(client) => &client.id,
            Self::VerifyKey(key_id) => key_id,
        }
    }

    /// Whether the token concerns the caller (core's `may_introspect`).
    fn may_introspect(&self, token: &VerifiedToken) -> bool {
        match self {
            Self::Client(client) => may_introspect(client, &token.claims),
            Self::VerifyKey(_) => true,
        }
    }
}

/// Who may introspect: a client (its credentials) or an API key holding
/// `gatehouse:verify` (as `Authorization: Bearer`).
fn introspector(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
    cert: Option<&CertIdentity>,
) -> Result<Introspector, OAuthError> {
    let bearer = match credential::presented(headers, Schemes::BearerOrBasic) {
        Ok(Presented::Bearer(key)) => Some(key),
        Err(CredentialError::Ambiguous) => return Err(credential::ambiguous_oauth()),
        _ => None,
    };
    let Some(key) = bearer else {
        // A public client proves nothing about itself, so it learns nothing here.
        return authenticate(state, headers, &form.credentials, cert).and_then(|client| {
            if client.auth_method == gatehouse_core::oauth::ClientAuthMethod::None {
                Err(OAuthError::InvalidClient(
                    "a public client cannot introspect tokens".into(),
                ))
            } else {
                Ok(Introspector::Client(client))
            }
        });
    };
    let refused =
        || OAuthError::InvalidClient("an API key with gatehouse:verify is required".into());
    let key = ApiKey::parse(key).map_err(|_| refused())?;
    let verify = Scope::parse(VERIFY).map_err(|_| refused())?;
    let lookup = state.keys.verify(&key, &[verify], state.clock.now());
    match lookup.decision {
        Ok(verified) => Ok(Introspector::VerifyKey(
            verified.who.credential_id().to_owned(),
        )),
        Err(_) => Err(refused()),
    }
}

/// RFC 7009 §2.1 for a refresh token: its whole family is revoked, with the access
/// tokens it issued. Only the client it was issued to may revoke it.
async fn revoke_refresh(
    state: &AppState,
    client_id: &str,
    token: &str,
) -> Result<String, OAuthError> {
    let record = refresh_tokens::find(state, token).await.map_err(|e| {
        tracing::error!(error = %e, "refresh token lookup failed");
        OAuthError::ServerError("the revocation could not be stored; retry".into())
    })?;
    let Some(record) = record.filter(|r| r.revoked_at.is_none()) else {
        return Ok("not_active".to_owned());
    };
    if record.client_id != client_id {
        // As for an access token: unrevoked, and answered like an unknown token.
        return Ok("not_permitted".to_owned());
    }
    refresh_tokens::revoke_family(state, &record.family_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "refresh token revocation failed");
            OAuthError::ServerError("the revocation could not be stored; retry".into())
        })?;
    Ok(format!("revoked family {}", record.family_id))
}

/// RFC 7662 for a refresh token: active only while it could be used, and only to the
/// client it was issued to (it means nothing to anyone else).
async fn refresh_introspection(
    state: &AppState,
    caller: &str,
    token: &str,
) -> Result<(Value, String), OAuthError> {
    let record = refresh_tokens::find(state, token).await.map_err(|e| {
        tracing::error!(error = %e, "refresh token lookup failed");
        OAuthError::ServerError("try again".into())
    })?;
    let Some(record) = record else {
        return Ok((json!({"active": false}), "inactive: unknown".to_owned()));
    };
    if let Err(refusal) = refresh::check(&record, caller, None, state.clock.now()) {
        let reason = format!("inactive: {}", refusal.reason());
        return Ok((json!({"active": false}), reason));
    }
    let secs = |t: gatehouse_core::UnixTime| t.as_millis().div_euclid(1000);
    let body = json!({
        "active": true,
        "token_type": "refresh_token",
        "iss": state.settings.public_url,
        "sub": record.user_id,
        "client_id": record.client_id,
        "scope": record.scopes.to_space_separated(),
        "iat": secs(record.issued_at),
        "exp": secs(record.expires_at),
    });
    Ok((body, format!("active refresh token {}", record.id)))
}

/// The RFC 7662 answer: `{"active": false}` says nothing more.
fn introspection(token: Option<&VerifiedToken>) -> Value {
    let Some(token) = token else {
        return json!({"active": false});
    };
    let c = &token.claims;
    let mut body = json!({
        "active": true,
        "token_type": "Bearer",
        "iss": c.iss, "sub": c.sub, "aud": c.aud, "exp": c.exp, "iat": c.iat, "nbf": c.nbf,
        "jti": c.jti, "client_id": c.client_id, "scope": c.scope, "cnf": c.cnf,
    });
    if let Some(obj) = body.as_object_mut() {
        obj.retain(|_, v| !v.is_null());
    }
    body
}
