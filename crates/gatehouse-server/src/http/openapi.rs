//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse", description = "API authentication service and gateway: admin API and verification."),
    paths(
        super::keys::create, super::keys::list, super::keys::show, super::keys::update,
        super::keys::revoke, super::keys::rotate, super::keys::delete,
        super::verify::verify, super::audit::list, super::audit::head,
        super::audit::verify,
        super::signing_keys::list, super::signing_keys::rotate, super::signing_keys::withdraw,
        super::well_known::jwks,
        super::clients::create, super::clients::list, super::clients::show,
        super::clients::update, super::clients::rotate_secret, super::clients::delete,
        super::users::create, super::users::list, super::users::show, super::users::update,
        super::users::set_password, super::users::delete,
        super::consents::list, super::consents::revoke,
        super::ca::init, super::ca::show, super::ca::issue, super::ca::list, super::ca::revoke,
        super::token::token, super::introspection::introspect, super::introspection::revoke,
        super::userinfo::userinfo,
        super::well_known::oauth_metadata,
        super::well_known::openid_configuration,
        super::health::healthz, super::health::readyz, super::health::metrics,
    ),
    modifiers(&Security),
)]
struct Document;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "A Gatehouse API key; `Authorization: Bearer <key>` works too.",
            ))),
        );
    }
}

/// `GET /admin/v1/openapi.json` — this API's OpenAPI document (public).
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(Document::openapi())
}
