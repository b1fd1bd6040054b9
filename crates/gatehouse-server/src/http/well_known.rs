//! `/.well-known/…` documents: the JWK Set (RFC 7517) and the server metadata (RFC
//! 8414, OpenID Connect Discovery), which list exactly what this build supports.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use gatehouse_core::oauth::oidc;
use serde_json::json;
use std::sync::Arc;

/// How long clients may cache these documents; the signing key publish lead
/// (`signing.publish_lead_secs`, at least 300) is never shorter.
const PUBLIC_MAX_AGE: &str = "public, max-age=300";

/// `GET /.well-known/jwks.json` — the public keys that verify Gatehouse's tokens: the
/// active key, the next one (published before it signs) and retired ones still inside
/// their tokens' lifetime.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "oauth",
    responses((status = 200, description = "RFC 7517 JWK Set", content_type = "application/jwk-set+json")))]
pub async fn jwks(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let set = state.signing_keys.jwks(state.clock.now());
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, PUBLIC_MAX_AGE),
        ],
        Json(set),
    )
}

/// `GET /.well-known/oauth-authorization-server` — RFC 8414 metadata.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "RFC 8414 authorization server metadata")))]
pub async fn oauth_metadata(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    metadata(metadata_fields(&state))
}

/// `GET /.well-known/openid-configuration` — the same, with the fields OpenID Connect
/// Discovery requires and those whose defaults would claim more than is supported
/// (`request_uri_parameter_supported` defaults to true).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oauth",
    responses((status = 200, description = "OpenID Connect Discovery metadata")))]
pub async fn openid_configuration(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut fields = metadata_fields(&state);
    fields.insert("subject_types_supported".into(), json!(["public"]));
    fields.insert(
        "id_token_signing_alg_values_supported".into(),
        json!([state.settings.signing.alg.as_str()]),
    );
    let issuer = &state.settings.public_url;
    let oidc = json!({
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "claims_supported": oidc::CLAIMS_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    if let serde_json::Value::Object(oidc) = oidc {
        fields.extend(oidc);
    }
    metadata(fields)
}

fn metadata_fields(state: &AppState) -> serde_json::Map<String, serde_json::Value> {
    let issuer = &state.settings.public_url;
    let fields = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "scopes_supported": oidc::IDENTITY_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "bearer"],
        "introspection_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
    });
    let mut fields = match fields {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    if state
        .settings
        .tls
        .as_ref()
        .is_some_and(|t| t.verifies_clients())
    {
        // RFC 8705: only where client certificates reach the server.
        for list in [
            "token_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            if let Some(serde_json::Value::Array(methods)) = fields.get_mut(list) {
                methods.push(json!("tls_client_auth"));
            }
        }
        fields.insert(
            "tls_client_certificate_bound_access_tokens".into(),
            json!(true),
        );
    }
    fields
}

fn metadata(fields: serde_json::Map<String, serde_json::Value>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, PUBLIC_MAX_AGE)],
        Json(serde_json::Value::Object(fields)),
    )
}
