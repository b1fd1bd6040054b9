//! `/admin/v1/clients`: OAuth clients (`gatehouse:clients`). A caller can register or
//! manage only clients whose scopes it holds. The secret is in the create and
//! rotate-secret responses, this once, for the methods that use one.
//!
//! Every record about to be stored, created or changed, must pass core's
//! [`check_metadata`]: grants, authentication method and redirect URIs that fit
//! together (a PATCH is checked on the result, not on the patch alone).

use super::action::AuditTarget;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, PageQuery, id_path};
use super::keys::{checked_name, checked_text, parse_scopes};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_api::clients::{Client, ClientWithSecret, CreateClient, UpdateClient};
use gatehouse_api::{Page, Problem};
use gatehouse_core::jose::{JwkSet, VerifyingKey};
use gatehouse_core::oauth::{
    CertBinding, ClientAuthMethod, ClientRecord, ClientSecret, GrantType, MetadataError,
    check_metadata, parse_redirect_uris,
};
use gatehouse_core::scope::{CLIENTS, ScopeSet};
use gatehouse_core::{id, policy};
use std::sync::Arc;

/// `POST /admin/v1/clients` — register a client (`gatehouse:clients`).
#[utoipa::path(post, path = "/admin/v1/clients", tag = "clients", request_body = CreateClient,
    responses((status = 201, body = ClientWithSecret), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Result<ApiJson<CreateClient>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "client.create", None, async {
            caller.require(CLIENTS)?;
            let ApiJson(req) = req?;
            let scopes = parse_scope(&req.scope)?;
            policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
            let now = state.clock.now();
            let mut entropy = crate::entropy::OsEntropy;
            let secret = ClientSecret::generate(&mut entropy)?;
            let method = auth_method(req.token_endpoint_auth_method.as_deref())?;
            let record = ClientRecord {
                id: id::generate("cli", now, &mut entropy)?,
                name: checked_name(&req.name)?,
                secret_digest: secret.digest(),
                jwks: client_keys(method, req.jwks)?,
                tls_client_auth: binding(req.tls_client_auth_subject, req.tls_client_auth_sha256),
                auth_method: method,
                grant_types: grant_types(req.grant_types.as_deref())?,
                scopes,
                audiences: audiences("audience", &req.audience)?,
                resource_server_audiences: audiences(
                    "resource_server_audiences",
                    &req.resource_server_audiences,
                )?,
                access_ttl_secs: req.access_token_ttl.map(ttl).transpose()?,
                redirect_uris: parse_redirect_uris(&req.redirect_uris).map_err(refused)?,
                enabled: true,
                created_at: now,
                updated_at: now,
            };
            check_metadata(&record).map_err(refused)?;
            state.store.insert_client(&record).await?;
            state.clients.upsert(record.clone());
            Ok((
                AuditTarget(record.id.clone()),
                with_secret(&record, &secret, true),
            ))
        })
        .await
}

/// `GET /admin/v1/clients` — clients by id, oldest first (`gatehouse:clients`).
#[utoipa::path(get, path = "/admin/v1/clients", tag = "clients", params(PageQuery),
    responses((status = 200, body = Page<Client>), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    query: Result<ApiQuery<PageQuery>, ApiError>,
) -> Result<Response, ApiError> {
    caller
        .audited(&state, "client.list", None, async {
            caller.require(CLIENTS)?;
            let ApiQuery(q) = query?;
            let limit = q.limit()? as usize;
            let items: Vec<Client> = state
                .clients
                .all()
                .iter()
                .filter(|c| {
                    q.cursor
                        .as_deref()
                        .is_none_or(|after| c.id.as_str() > after)
                })
                .take(limit)
                .map(|c| Client::from(&**c))
                .collect();
            let next_cursor = (items.len() == limit)
                .then(|| items.last().map(|c| c.client_id.clone()))
                .flatten();
            Ok(Json(Page { items, next_cursor }))
        })
        .await
}

/// `GET /admin/v1/clients/{id}` — one client (`gatehouse:clients`).
#[utoipa::path(get, path = "/admin/v1/clients/{id}", tag = "clients",
    responses((status = 200, body = Client), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (client_id, target) = id_path("cli", path);
    caller
        .audited(&state, "client.read", target.as_deref(), async {
            caller.require(CLIENTS)?;
            let client = find(&state, &client_id?)?;
            Ok(Json(Client::from(&*client)))
        })
        .await
}

/// `PATCH /admin/v1/clients/{id}` — change a client (`gatehouse:clients`).
#[utoipa::path(patch, path = "/admin/v1/clients/{id}", tag = "clients", request_body = UpdateClient,
    responses((status = 200, body = Client), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
    req: Result<ApiJson<UpdateClient>, ApiError>,
) -> Result<Response, ApiError> {
    let (client_id, target) = id_path("cli", path);
    caller
        .audited(&state, "client.update", target.as_deref(), async {
            caller.require(CLIENTS)?;
            let mut record = manage(&state, &caller, &client_id?)?;
            let ApiJson(req) = req?;
            if let Some(name) = &req.name {
                record.name = checked_name(name)?;
            }
            if let Some(scope) = &req.scope {
                let scopes = parse_scope(scope)?;
                policy::may_mint(caller.who.scopes(), &scopes).map_err(ApiError::Escalation)?;
                record.scopes = scopes;
            }
            if let Some(grants) = &req.grant_types {
                record.grant_types = grant_types(Some(grants))?;
            }
            if let Some(audience) = &req.audience {
                record.audiences = audiences("audience", audience)?;
            }
            if let Some(served) = &req.resource_server_audiences {
                record.resource_server_audiences = audiences("resource_server_audiences", served)?;
            }
            if let Some(method) = &req.token_endpoint_auth_method {
                let method = auth_method(Some(method))?;
                if record.auth_method.uses_secret() && !method.uses_secret() {
                    // The old secret is dropped, so that switching back later does
                    // not bring a secret that was given out back to life.
                    let unseen = ClientSecret::generate(&mut crate::entropy::OsEntropy)?;
                    record.secret_digest = unseen.digest();
                }
                record.auth_method = method;
            }
            if req.jwks.is_some() || req.token_endpoint_auth_method.is_some() {
                let keys = req.jwks.clone().or_else(|| record.jwks.clone());
                record.jwks = client_keys(record.auth_method, keys)?;
            }
            if req.tls_client_auth_subject.is_some() || req.tls_client_auth_sha256.is_some() {
                record.tls_client_auth = binding(
                    req.tls_client_auth_subject.clone(),
                    req.tls_client_auth_sha256.clone(),
                );
            } else if record.auth_method != ClientAuthMethod::TlsClientAuth {
                // Switching away from tls_client_auth drops the certificate with it.
                record.tls_client_auth = None;
            }
            if let Some(secs) = req.access_token_ttl {
                record.access_ttl_secs = Some(ttl(secs)?);
            }
            if let Some(uris) = &req.redirect_uris {
                record.redirect_uris = parse_redirect_uris(uris).map_err(refused)?;
            }
            if let Some(enabled) = req.enabled {
                record.enabled = enabled;
            }
            check_metadata(&record).map_err(refused)?;
            record.updated_at = state.clock.now();
            state.store.update_client(&record).await?;
            let body = Client::from(&record);
            state.clients.upsert(record);
            Ok(Json(body))
        })
        .await
}

/// `POST /admin/v1/clients/{id}/rotate-secret` — a new secret replaces the old one at
/// once (`gatehouse:clients`).
#[utoipa::path(post, path = "/admin/v1/clients/{id}/rotate-secret", tag = "clients",
    responses((status = 200, body = ClientWithSecret), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (client_id, target) = id_path("cli", path);
    caller
        .audited(&state, "client.rotate_secret", target.as_deref(), async {
            caller.require(CLIENTS)?;
            let mut record = manage(&state, &caller, &client_id?)?;
            no_secret(record.auth_method)?;
            let secret = ClientSecret::generate(&mut crate::entropy::OsEntropy)?;
            record.secret_digest = secret.digest();
            record.updated_at = state.clock.now();
            state.store.update_client(&record).await?;
            let response = with_secret(&record, &secret, false);
            state.clients.upsert(record);
            Ok(response)
        })
        .await
}

/// `DELETE /admin/v1/clients/{id}` — delete a client (`gatehouse:clients`). Tokens
/// it holds stay valid until they expire; revoke them to end them sooner.
#[utoipa::path(delete, path = "/admin/v1/clients/{id}", tag = "clients",
    responses((status = 204), (status = "4XX", body = Problem)), security(("api_key" = [])))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    path: Result<ApiPath<String>, ApiError>,
) -> Result<Response, ApiError> {
    let (client_id, target) = id_path("cli", path);
    caller
        .audited(&state, "client.delete", target.as_deref(), async {
            caller.require(CLIENTS)?;
            let record = manage(&state, &caller, &client_id?)?;
            state.store.delete_client(&record.id).await?;
            state.clients.remove(&record.id);
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

fn find(state: &AppState, client_id: &str) -> Result<Arc<ClientRecord>, ApiError> {
    state
        .clients
        .get(client_id)
        .ok_or(ApiError::NotFound("client"))
}

/// A copy of the client to change, if the caller holds all of its scopes.
fn manage(state: &AppState, caller: &Caller, client_id: &str) -> Result<ClientRecord, ApiError> {
    let client = find(state, client_id)?;
    policy::may_manage(caller.who.scopes(), &client.scopes).map_err(ApiError::Escalation)?;
    Ok((*client).clone())
}

/// Refuses to rotate the secret of a client that authenticates without one.
fn no_secret(method: ClientAuthMethod) -> Result<(), ApiError> {
    let detail = match method {
        ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost => return Ok(()),
        ClientAuthMethod::PrivateKeyJwt => {
            "this client authenticates with private_key_jwt: update its jwks instead"
        }
        ClientAuthMethod::TlsClientAuth => {
            "this client authenticates with its certificate: update tls_client_auth_subject or tls_client_auth_sha256 instead"
        }
        ClientAuthMethod::None => {
            "this client is public (token_endpoint_auth_method none) and has no secret to rotate"
        }
    };
    Err(ApiError::bad_request("invalid_field", detail))
}

fn with_secret(record: &ClientRecord, secret: &ClientSecret, created: bool) -> Response {
    // Every record has a secret digest, but a private_key_jwt or public client's
    // secret exists only so that it has one; no method accepts it, so it is never
    // shown.
    let body = ClientWithSecret {
        client: Client::from(record),
        client_secret: record
            .auth_method
            .uses_secret()
            .then(|| secret.reveal().to_owned()),
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(location) = HeaderValue::from_str(&format!("/admin/v1/clients/{}", record.id)) {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// A space-separated scope string (RFC 7591 `scope`).
fn parse_scope(scope: &str) -> Result<ScopeSet, ApiError> {
    let names: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    parse_scopes(&names)
}

fn grant_types(names: Option<&[String]>) -> Result<Vec<GrantType>, ApiError> {
    let Some(names) = names else {
        return Ok(vec![GrantType::ClientCredentials]);
    };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "grant_types must name at least one grant",
        ));
    }
    let mut grants = Vec::new();
    for name in names {
        let grant = GrantType::from_name(name).ok_or_else(|| {
            let supported: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "grant type {name:?} is not supported; supported: {}",
                    supported.join(", ")
                ),
            )
        })?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    Ok(grants)
}

fn auth_method(name: Option<&str>) -> Result<ClientAuthMethod, ApiError> {
    match name {
        None => Ok(ClientAuthMethod::ClientSecretBasic),
        Some(name) => ClientAuthMethod::from_name(name).ok_or_else(|| {
            let supported: Vec<&str> = ClientAuthMethod::ALL.iter().map(|m| m.as_str()).collect();
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "token_endpoint_auth_method {name:?} is not supported; supported: {}",
                    supported.join(", ")
                ),
            )
        }),
    }
}

/// The certificate a `tls_client_auth` client presents, from the request's two
/// fields; `check_metadata` then allows it only for that method. Both fields at once
/// become an empty fingerprint, which `check_metadata` refuses like any malformed one.
fn binding(subject: Option<String>, sha256: Option<String>) -> Option<CertBinding> {
    match (subject, sha256) {
        (Some(subject), None) => Some(CertBinding::Subject(subject)),
        (None, Some(hex)) => Some(CertBinding::Sha256(hex.to_ascii_lowercase())),
        (Some(_), Some(_)) => Some(CertBinding::Sha256(String::new())),
        (None, None) => None,
    }
}

/// The keys of a `private_key_jwt` client: required, each usable and named by a
/// `kid`; for other methods, none.
fn client_keys(method: ClientAuthMethod, jwks: Option<JwkSet>) -> Result<Option<JwkSet>, ApiError> {
    let bad = |detail: String| ApiError::bad_request("invalid_field", detail);
    match (method, jwks) {
        (ClientAuthMethod::PrivateKeyJwt, None) => Err(bad(
            "private_key_jwt needs jwks, the client's public keys".into(),
        )),
        (ClientAuthMethod::PrivateKeyJwt, Some(set)) => {
            if set.keys.is_empty() || set.keys.len() > 10 {
                return Err(bad("jwks holds 1 to 10 keys".into()));
            }
            for key in &set.keys {
                if key.kid.is_none() {
                    return Err(bad("every key in jwks needs a kid".into()));
                }
                VerifyingKey::from_jwk(key).map_err(|e| bad(format!("jwks: {e}")))?;
            }
            Ok(Some(set))
        }
        (_, None) => Ok(None),
        (_, Some(_)) => Err(bad("jwks is only for private_key_jwt clients".into())),
    }
}

/// A registration that core refuses: RFC 7591's `invalid_redirect_uri` or
/// `invalid_client_metadata`, with a message that names no URI.
fn refused(e: MetadataError) -> ApiError {
    ApiError::bad_request(e.code(), e.to_string())
}

/// A list of audience names, `field` in the request: the audiences of a client's
/// tokens, or those it serves as a resource server. Both are compared with a token's
/// `aud`, so both follow the same rules: at most 20, each non-empty display text.
fn audiences(field: &str, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.len() > 20 {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field}: at most 20 audiences"),
        ));
    }
    values
        .iter()
        .map(|a| {
            if a.is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("{field}: an audience is not empty"),
                ));
            }
            checked_text(field, a)
        })
        .collect()
}

fn ttl(secs: u32) -> Result<u32, ApiError> {
    if secs == 0 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "access_token_ttl is at least 1 second",
        ));
    }
    Ok(secs)
}
