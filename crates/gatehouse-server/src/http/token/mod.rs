//! `POST /oauth/token` (RFC 6749 §4.1.3, §4.4 and §6, RFC 7636, RFC 9068, OIDC Core
//! §3.1.3): an access token for client credentials, for an authorization code and its
//! PKCE verifier (`code`), or for a refresh token (`refresh`); with an ID token when
//! the grant includes `openid`. Errors are RFC 6749 §5.2 JSON, not problem details;
//! every answer carries `Cache-Control: no-store`; every request is one audit event
//! (`oauth.token`).

mod code;
mod refresh;

use super::client_auth::{FormCredentials, authenticate};
use super::oauth_answer::answer;
use crate::listener::Peer;
use crate::state::{AppState, RequestContext};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gatehouse_api::clients::{OAuthErrorBody, TokenResponse};
use gatehouse_core::audit::Outcome;
use gatehouse_core::jose::Alg;
use gatehouse_core::jose::claims::Confirmation;
use gatehouse_core::mtls::CertIdentity;
use gatehouse_core::oauth::oidc::{self, IdTokenSubject};
use gatehouse_core::oauth::{
    ClientAuthMethod, ClientRecord, GrantType, OAuthError, access_claims, granted_scopes,
};
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::user::UserRecord;
use gatehouse_core::{UnixTime, base62};
use serde::Deserialize;
use std::sync::Arc;

const ACTION: &str = "oauth.token";

/// The form parameters read (others are ignored, RFC 6749 §3.2); a parameter given
/// twice is refused.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    #[serde(flatten)]
    credentials: FormCredentials,
}

/// `POST /oauth/token` — an access token for an authenticated client.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "RFC 6749 token request"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
pub async fn token(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let mut event = ctx.event(state.clock.now(), ACTION, Outcome::Denied, 0);
    let cert = peer
        .as_ref()
        .and_then(|Extension(p)| p.client_cert.as_deref());
    let (client, result) = issue(&state, &headers, form, cert).await;
    event.principal = client.as_ref().map(|c| c.id.as_str().into());
    event.credential_id = event.principal.clone();
    event.auth_method = client.as_ref().map(|c| c.auth_method.as_str().into());
    let result = result.map(|granted| {
        event.target = Some(granted.jti.into());
        let reason = match granted.user {
            Some(user) => format!(
                "{} for {user}: {}",
                granted.grant.as_str(),
                granted.body.scope
            ),
            None => format!("{}: {}", granted.grant.as_str(), granted.body.scope),
        };
        ((StatusCode::OK, Json(granted.body)).into_response(), reason)
    });
    answer(&state, event, result).await
}

/// What a grant gave, with what its audit event records: the grant, the access
/// token's `jti` (never the token) and the user it acts for.
struct Granted {
    body: TokenResponse,
    grant: GrantType,
    jti: String,
    user: Option<String>,
}

/// The tokens, or why not.
type Issued = Result<Granted, OAuthError>;

/// The token, or why not; and the client, once it is known who asks.
async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
    cert: Option<&CertIdentity>,
) -> (Option<Arc<ClientRecord>>, Issued) {
    let req = match form {
        Ok(Form(req)) => req,
        Err(e) => {
            let detail = match e {
                FormRejection::InvalidFormContentType(_) => {
                    "the body must be application/x-www-form-urlencoded".to_owned()
                }
                _ => "malformed or repeated form parameters".to_owned(),
            };
            return (None, Err(OAuthError::InvalidRequest(detail)));
        }
    };
    let client = match authenticate(state, headers, &req.credentials, cert) {
        Ok(client) => client,
        Err(e) => return (None, Err(e)),
    };
    // RFC 8705 §3: a client that proved itself with a certificate gets tokens only
    // that certificate can use.
    let bound = cert
        .filter(|_| client.auth_method == ClientAuthMethod::TlsClientAuth)
        .map(CertIdentity::x5t_s256);
    let result = grant(state, &client, &req, bound.as_deref()).await;
    (Some(client), result)
}

async fn grant(
    state: &AppState,
    client: &ClientRecord,
    req: &TokenRequest,
    bound: Option<&str>,
) -> Issued {
    let grant_type = req
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("grant_type is missing".into()))?;
    let grant = GrantType::from_name(grant_type).ok_or_else(|| {
        OAuthError::UnsupportedGrantType(format!("{grant_type:?} is not supported here"))
    })?;
    if !client.grant_types.contains(&grant) {
        return Err(OAuthError::UnauthorizedClient(format!(
            "this client may not use {grant_type}"
        )));
    }
    match grant {
        GrantType::ClientCredentials => {
            let scopes = granted_scopes(client, req.scope.as_deref())?;
            let access = sign_access(state, client, &scopes, None, bound)?;
            access.response(GrantType::ClientCredentials, None, None)
        }
        GrantType::AuthorizationCode => code::grant(state, client, req, bound).await,
        GrantType::RefreshToken => refresh::grant(state, client, req, bound).await,
    }
}

/// A signed access token, before it is sent.
struct SignedAccess {
    token: String,
    jti: String,
    ttl: u32,
    scopes: ScopeSet,
    /// The user it acts for, if any.
    user: Option<String>,
    /// The algorithm it was signed with, which the ID token beside it shares.
    alg: Alg,
}

impl SignedAccess {
    /// The token response carrying this access token and what came with it.
    fn response(
        self,
        grant: GrantType,
        refresh_token: Option<String>,
        id_token: Option<String>,
    ) -> Issued {
        Ok(Granted {
            body: TokenResponse {
                access_token: self.token,
                token_type: "Bearer".into(),
                expires_in: self.ttl,
                scope: self.scopes.to_space_separated(),
                refresh_token,
                id_token,
            },
            grant,
            jti: self.jti,
            user: self.user,
        })
    }
}

/// Signs an access token for `client` with `scopes`, on behalf of `user` if any,
/// bound to the certificate with thumbprint `bound` if any (`cnf.x5t#S256`).
fn sign_access(
    state: &AppState,
    client: &ClientRecord,
    scopes: &ScopeSet,
    user: Option<&str>,
    bound: Option<&str>,
) -> Result<SignedAccess, OAuthError> {
    let now = state.clock.now();
    let ttl = access_ttl(state, client);
    let jti = new_jti().map_err(|_| OAuthError::ServerError("try again".into()))?;
    let mut claims = access_claims(
        &state.settings.public_url,
        client,
        scopes,
        now,
        ttl,
        jti.clone(),
    );
    if let Some(user) = user {
        claims.sub = Some(user.to_owned());
    }
    claims.cnf = bound.map(|thumbprint| Confirmation {
        x5t_s256: Some(thumbprint.to_owned()),
    });
    let signer = state.signing_keys.signer(now).ok_or_else(no_signing_key)?;
    let token = signer
        .signer
        .sign_jwt("at+jwt", &claims)
        .map_err(|_| unsigned())?;
    Ok(SignedAccess {
        token,
        jti,
        ttl,
        scopes: scopes.clone(),
        user: user.map(str::to_owned),
        alg: signer.signer.alg(),
    })
}

/// The ID token to send beside `access` when its scope includes `openid` (OIDC Core
/// §3.1.3.3); same lifetime as the access token.
fn id_token(
    state: &AppState,
    client: &ClientRecord,
    user: &UserRecord,
    auth_time: UnixTime,
    nonce: Option<&str>,
    access: &SignedAccess,
) -> Result<Option<String>, OAuthError> {
    if !access.scopes.contains(oidc::OPENID) {
        return Ok(None);
    }
    let now = state.clock.now();
    let subject = IdTokenSubject {
        issuer: &state.settings.public_url,
        client_id: &client.id,
        user_id: &user.id,
        auth_time,
        nonce,
    };
    let claims = oidc::id_token_claims(subject, access.alg, &access.token, now, access.ttl);
    let signer = state.signing_keys.signer(now).ok_or_else(no_signing_key)?;
    signer
        .signer
        .sign_jwt("JWT", &claims)
        .map(Some)
        .map_err(|_| unsigned())
}

/// The user a grant acts for, if the account still exists and may sign in: disabling
/// or deleting a user ends what their codes and refresh tokens can buy.
async fn active_user(state: &AppState, user_id: &str) -> Result<UserRecord, OAuthError> {
    match state.store.user(user_id).await {
        Ok(Some(user)) if user.enabled => Ok(user),
        Ok(_) => Err(OAuthError::InvalidGrant(
            "the user of this grant is disabled or deleted".into(),
        )),
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed at the token endpoint");
            Err(OAuthError::ServerError("try again".into()))
        }
    }
}

fn access_ttl(state: &AppState, client: &ClientRecord) -> u32 {
    let tokens = state.settings.tokens;
    client
        .access_ttl_secs
        .unwrap_or(tokens.access_ttl_secs)
        .min(tokens.max_access_ttl_secs)
}

fn no_signing_key() -> OAuthError {
    OAuthError::ServerError("no signing key is active".into())
}

fn unsigned() -> OAuthError {
    OAuthError::ServerError("the token could not be signed".into())
}

/// A token id: 22 random base62 characters (≈ 131 bits).
fn new_jti() -> Result<String, gatehouse_core::EntropyUnavailable> {
    let mut buf = [0u8; 22];
    base62::fill_random(&mut buf, &mut crate::entropy::OsEntropy)?;
    Ok(buf.iter().map(|&b| char::from(b)).collect())
}
