//! `[gateway]`, `[[gateway.routes]]` and `[[jwt.issuers]]`: where the gateway listens,
//! what it forwards where, and who must be calling.

use super::{ConfigError, TlsSettings, key_error};
use crate::issuers::IssuerSettings;
use gatehouse_core::jose::Alg;
use gatehouse_core::rate_limit::Rate;
use gatehouse_core::scope::Scope;
use gatehouse_proxy::forward::ForwarderSettings;
use gatehouse_proxy::route::{Route, RouteSpec, RouteTable};
use serde::Deserialize;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGateway {
    listen: Option<String>,
    connect_timeout_secs: Option<u32>,
    request_timeout_secs: Option<u32>,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    host: Option<String>,
    path_prefix: String,
    methods: Option<Vec<String>>,
    upstream: String,
    #[serde(default)]
    strip_prefix: bool,
    auth: Vec<String>,
    #[serde(default)]
    require_scopes: Vec<String>,
    rate_limit: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    forward_credential: bool,
    #[serde(default)]
    identity_jwt: bool,
    headers_with_underscores: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForwardAuth {
    proxy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwt {
    #[serde(default)]
    issuers: Vec<RawIssuer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: String,
    jwks_uri: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<String>,
}

/// The credentials a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptedAuth {
    /// Gatehouse API keys.
    pub api_key: bool,
    /// Gatehouse's own access tokens and configured external issuers' JWTs.
    pub jwt: bool,
    /// Client certificates verified in the TLS handshake.
    pub mtls: bool,
}

/// What a route demands of a request before it is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Accepted credentials; at least one.
    pub auth: AcceptedAuth,
    /// Scopes the caller must hold, all of them.
    pub require_scopes: Vec<Scope>,
    /// Requests per credential on this route.
    pub rate_limit: Option<Rate>,
    /// When not empty, a token's `aud` must name one of these.
    pub audiences: Vec<String>,
    /// Pass the client's credential header on to the upstream.
    pub forward_credential: bool,
    /// Add `X-Gatehouse-Identity`, a short-lived JWT about the caller.
    pub identity_jwt: bool,
    /// Forward client headers whose names have an underscore (dropped by default, as
    /// nginx does: upstreams that fold `_` and `-` alike would read them as others).
    pub keep_underscored_headers: bool,
}

/// `[forward_auth] proxy`: which proxy sits in front, and so the one place the
/// original request is read from. Each proxy overwrites its own headers with what
/// the client really asked for, but passes every other header the client sent —
/// so reading any other proxy's headers would let the client choose the request
/// being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardAuthProxy {
    /// The original method and path are the check request's own (the path after
    /// `/v1/forward-auth`), the host its `Host`: nothing is read from headers. Envoy's
    /// `ext_authz` form, which any proxy can be configured to send; the default,
    /// since a client cannot add to a request line.
    #[default]
    Envoy,
    /// nginx `auth_request`: `X-Original-URI`, `X-Forwarded-Method`,
    /// `X-Forwarded-Host`.
    Nginx,
    /// Traefik `ForwardAuth` and Caddy `forward_auth`: `X-Forwarded-Method`,
    /// `X-Forwarded-Uri`, `X-Forwarded-Host`.
    Traefik,
}

pub(super) fn forward_auth(raw: RawForwardAuth) -> Result<ForwardAuthProxy, ConfigError> {
    match raw.proxy.as_deref() {
        None | Some("envoy") => Ok(ForwardAuthProxy::Envoy),
        Some("nginx") => Ok(ForwardAuthProxy::Nginx),
        Some("traefik" | "caddy") => Ok(ForwardAuthProxy::Traefik),
        Some(other) => Err(key_error(
            "forward_auth.proxy",
            format!("{other:?} is not \"envoy\", \"nginx\", \"traefik\" or \"caddy\""),
        )),
    }
}

/// `[gateway]`: validated.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Address of the gateway listener; `None` runs no gateway.
    pub listen: Option<SocketAddr>,
    /// Upstream client timeouts and pool.
    pub forwarder: ForwarderSettings,
    /// The routes.
    pub routes: Arc<RouteTable<RoutePolicy>>,
}

pub(super) fn gateway(
    raw: RawGateway,
    tls: Option<&TlsSettings>,
) -> Result<GatewaySettings, ConfigError> {
    let mtls = tls.is_some_and(TlsSettings::verifies_clients);
    let listen = raw
        .listen
        .map(|text| {
            text.parse::<SocketAddr>().map_err(|_| {
                key_error(
                    "gateway.listen",
                    format!("{text:?} is not an address like 127.0.0.1:8080"),
                )
            })
        })
        .transpose()?;
    let mut forwarder = ForwarderSettings::default();
    if let Some(secs) = raw.connect_timeout_secs {
        forwarder.connect_timeout = seconds("gateway.connect_timeout_secs", secs)?;
    }
    if let Some(secs) = raw.request_timeout_secs {
        forwarder.request_timeout = seconds("gateway.request_timeout_secs", secs)?;
    }
    let routes = raw
        .routes
        .into_iter()
        .enumerate()
        .map(|(i, r)| route(&format!("gateway.routes[{i}]"), r, mtls))
        .collect::<Result<Vec<_>, _>>()?;
    let routes = RouteTable::new(routes).map_err(|e| key_error("gateway.routes", e.to_string()))?;
    Ok(GatewaySettings {
        listen,
        forwarder,
        routes: Arc::new(routes),
    })
}

fn seconds(key: &str, secs: u32) -> Result<Duration, ConfigError> {
    if !(1..=3600).contains(&secs) {
        return Err(key_error(key, "must be between 1 and 3600 seconds"));
    }
    Ok(Duration::from_secs(u64::from(secs)))
}

fn route(key: &str, raw: RawRoute, mtls: bool) -> Result<(Route, RoutePolicy), ConfigError> {
    let field = |name: &str| format!("{key}.{name}");
    let mut auth = AcceptedAuth::default();
    for method in &raw.auth {
        match method.as_str() {
            "api_key" => auth.api_key = true,
            "jwt" => auth.jwt = true,
            "mtls" if mtls => auth.mtls = true,
            "mtls" => {
                return Err(key_error(
                    &field("auth"),
                    "\"mtls\" needs [tls] with client_auth = \"optional\" or \"required\"",
                ));
            }
            other => {
                return Err(key_error(
                    &field("auth"),
                    format!("{other:?} is not \"api_key\", \"jwt\" or \"mtls\""),
                ));
            }
        }
    }
    if auth == AcceptedAuth::default() {
        // Deny by default: a route that names no credential would let anyone through.
        return Err(key_error(
            &field("auth"),
            "name at least one of \"api_key\", \"jwt\" (routes without authentication are not supported)",
        ));
    }
    let require_scopes = raw
        .require_scopes
        .iter()
        .map(|s| Scope::parse(s).map_err(|e| key_error(&field("require_scopes"), e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let rate_limit = raw
        .rate_limit
        .as_deref()
        .map(|text| parse_rate(text).map_err(|m| key_error(&field("rate_limit"), m)))
        .transpose()?;
    let keep_underscored_headers = match raw.headers_with_underscores.as_deref() {
        None | Some("drop") => false,
        Some("allow") => true,
        Some(other) => {
            return Err(key_error(
                &field("headers_with_underscores"),
                format!("{other:?} is not \"drop\" or \"allow\""),
            ));
        }
    };
    let policy = RoutePolicy {
        auth,
        require_scopes,
        rate_limit,
        audiences: raw.audiences,
        forward_credential: raw.forward_credential,
        identity_jwt: raw.identity_jwt,
        keep_underscored_headers,
    };
    let spec = RouteSpec {
        name: raw.name,
        host: raw.host,
        path_prefix: raw.path_prefix,
        methods: raw.methods,
        upstream: raw.upstream,
        strip_prefix: raw.strip_prefix,
    };
    let route = Route::parse(spec).map_err(|e| key_error(key, e.to_string()))?;
    Ok((route, policy))
}

/// `"100/s"`, `"6000/min"`, `"10000/h"`: requests per second, minute or hour.
fn parse_rate(text: &str) -> Result<Rate, String> {
    let bad = || format!("{text:?} is not a rate like \"100/s\", \"6000/min\" or \"10000/h\"");
    let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
    let limit: NonZeroU32 = count.trim().parse().map_err(|_| bad())?;
    let duration_ms = match unit.trim() {
        "s" | "sec" | "second" => 1_000,
        "m" | "min" | "minute" => 60_000,
        "h" | "hour" => 3_600_000,
        _ => return Err(bad()),
    };
    Ok(Rate { limit, duration_ms })
}

/// The external issuers; `own` is Gatehouse's issuer, whose tokens are checked locally
/// and which no external entry may claim. An issuer named twice is refused: only one
/// entry could ever be used.
pub(super) fn issuers(raw: RawJwt, own: &str) -> Result<Vec<IssuerSettings>, ConfigError> {
    let issuers = parse_issuers(raw)?;
    for (i, issuer) in issuers.iter().enumerate() {
        let key = format!("jwt.issuers[{i}].issuer");
        if issuer.issuer.trim_end_matches('/') == own {
            return Err(key_error(
                &key,
                "is Gatehouse's own issuer (server.public_url)",
            ));
        }
        if issuers[..i]
            .iter()
            .any(|other| other.issuer == issuer.issuer)
        {
            return Err(key_error(&key, "is configured twice"));
        }
    }
    Ok(issuers)
}

fn parse_issuers(raw: RawJwt) -> Result<Vec<IssuerSettings>, ConfigError> {
    raw.issuers
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let key = format!("jwt.issuers[{i}]");
            let algorithms = raw
                .algorithms
                .iter()
                .map(|name| {
                    Alg::from_name(name).ok_or_else(|| {
                        key_error(
                            &format!("{key}.algorithms"),
                            format!("{name:?} is not \"ES256\", \"EdDSA\" or \"RS256\""),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let settings = IssuerSettings {
                issuer: raw.issuer,
                jwks_uri: raw.jwks_uri,
                audiences: raw.audiences,
                algorithms,
            };
            settings.validate().map_err(|m| key_error(&key, m))?;
            Ok(settings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn an_issuer_twice_or_gatehouse_itself_is_refused() {
        use super::super::{Overrides, Settings};
        let entry = |issuer: &str| {
            format!(
                "[[jwt.issuers]]\nissuer = \"{issuer}\"\naudiences = [\"a\"]\nalgorithms = [\"ES256\"]\n"
            )
        };
        let load = |toml: String| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("g.toml");
            std::fs::write(&path, toml).unwrap();
            Settings::load(Some(&path), [], &Overrides::default())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(load(entry("https://idp.example")).is_ok());
        let twice = load(entry("https://idp.example") + &entry("https://idp.example")).unwrap_err();
        assert!(twice.starts_with("jwt.issuers[1].issuer"), "{twice}");
        let own = load(entry("http://127.0.0.1:4000")).unwrap_err();
        assert!(own.starts_with("jwt.issuers[0].issuer"), "{own}");
    }

    #[test]
    fn rates_read_per_second_minute_and_hour() {
        assert_eq!(parse_rate("100/s").unwrap().duration_ms, 1_000);
        assert_eq!(parse_rate("6000 / min").unwrap().limit.get(), 6000);
        assert_eq!(parse_rate("10/h").unwrap().duration_ms, 3_600_000);
        for bad in ["0/s", "10", "10/day", "-1/s", "x/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
