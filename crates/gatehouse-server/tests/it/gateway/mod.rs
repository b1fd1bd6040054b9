//! The gateway and forward auth, end to end: a real upstream on loopback records what
//! reached it, so every test can check what was forwarded — and that a refused request
//! reached nothing.

mod auth;
mod caddy;
mod external;
mod forward_auth;
mod front;
mod hygiene;
mod nginx;
mod reference;
mod reload;
mod spoofing;
mod streaming;
pub mod upstream;

use crate::support::{Reply, TestApp, spawn_app_with};
use gatehouse_api::clients::{ClientWithSecret, TokenResponse};
use reqwest::Method;
use serde_json::json;
use upstream::Upstream;

/// The configuration of most tests: a gateway with an `orders` route (keys and tokens,
/// `orders:read` required), plus `extra` TOML.
pub fn config(upstream: &Upstream, extra: &str) -> String {
    format!(
        r#"version = 1
[gateway]
listen = "127.0.0.1:0"
request_timeout_secs = 1

[[gateway.routes]]
name = "orders"
path_prefix = "/orders"
upstream = "{}"
auth = ["api_key", "jwt"]
require_scopes = ["orders:read"]
{extra}
"#,
        upstream.url()
    )
}

/// A server with `config(upstream, extra)`.
pub async fn spawn_gateway(upstream: &Upstream, extra: &str) -> TestApp {
    spawn_app_with(&config(upstream, extra)).await
}

impl TestApp {
    /// A request to the gateway.
    pub fn through(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.gateway()))
    }

    /// Sends a gateway request and reads the whole answer.
    pub async fn via(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("gateway answers");
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("body").to_vec(),
        }
    }

    /// An access token for a new client holding `scope`, with `audience`.
    pub async fn token(&self, scope: &str, audience: &str) -> Issued {
        let client: ClientWithSecret = self
            .post(
                "/admin/v1/clients",
                &json!({"name": "svc", "scope": scope, "audience": [audience]}),
            )
            .await
            .expect(201)
            .json();
        let client_id = client.client.client_id.clone();
        let secret = client.client_secret.clone().expect("a secret client");
        let reply = self
            .send(
                self.request(Method::POST, "/oauth/token")
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await
            .expect(200);
        Issued {
            token: reply.json::<TokenResponse>().access_token,
            client_id,
            secret,
        }
    }

    /// Revokes an issued token as its client (RFC 7009).
    pub async fn revoke(&self, issued: &Issued) {
        self.send(
            self.request(Method::POST, "/oauth/revoke")
                .basic_auth(&issued.client_id, Some(&issued.secret))
                .form(&[("token", issued.token.as_str())]),
        )
        .await
        .expect(200);
    }
}

/// A token and the client it was issued to.
pub struct Issued {
    pub token: String,
    pub client_id: String,
    pub secret: String,
}
