//! One `[[jwt.issuers]]` entry, and the rule for the URLs keys may be fetched from.

use gatehouse_core::jose::Alg;
use reqwest::Url;
use std::net::IpAddr;

/// One `[[jwt.issuers]]` entry, validated by config with [`IssuerSettings::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSettings {
    /// The exact `iss` its tokens carry.
    pub issuer: String,
    /// Where its JWK Set is. `None`: found by OIDC discovery at
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal ours.
    pub jwks_uri: Option<String>,
    /// Audiences Gatehouse accepts; a token's `aud` must contain at least one.
    pub audiences: Vec<String>,
    /// Algorithms its tokens may use.
    pub algorithms: Vec<Alg>,
}

impl IssuerSettings {
    /// Checks what config cannot express in types: a non-empty issuer, audiences and
    /// algorithms, and fetchable URLs (`https://`, or `http://` to a loopback host
    /// only). The message names the offending key, without the `jwt.issuers` prefix.
    pub fn validate(&self) -> Result<(), String> {
        if self.issuer.is_empty() {
            return Err("`issuer` must not be empty".into());
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err("`audiences` must list at least one non-empty audience".into());
        }
        if self.algorithms.is_empty() {
            return Err("`algorithms` must list at least one algorithm".into());
        }
        match &self.jwks_uri {
            Some(uri) => fetchable_url(uri)
                .map(drop)
                .map_err(|e| format!("`jwks_uri`: {e}")),
            None => discoverable(&self.issuer).map_err(|e| {
                format!("`issuer` (used for discovery, as `jwks_uri` is not set): {e}")
            }),
        }
    }
}

/// Where OIDC discovery looks for `issuer`'s metadata (OIDC Discovery §4: a trailing
/// `/` of the issuer is removed before the well-known path is appended).
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

fn discoverable(issuer: &str) -> Result<(), String> {
    let url = fetchable_url(issuer)?;
    // OIDC Discovery §2 forbids both; appending the well-known path would land in them.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{issuer}` has a query or fragment"));
    }
    Ok(())
}

/// Parses `raw` and applies [`check_fetchable`].
pub(crate) fn fetchable_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    check_fetchable(&url)?;
    Ok(url)
}

/// Keys decide who is authenticated, so they travel over TLS. Plain HTTP is allowed to
/// a loopback host only, where no network lies between (local IdPs, tests). Credentials
/// in the URL are refused because URLs are logged.
pub(crate) fn check_fetchable(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(format!(
                "`{url}` must use https (plain http only to a loopback host)"
            ));
        }
        other => return Err(format!("`{url}`: scheme `{other}` is not https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry credentials".into());
    }
    Ok(())
}

/// 127.0.0.0/8, `::1` and `localhost`. Nothing else: not `::ffff:127.0.0.1`, not
/// `localhost.`, not names that merely resolve to loopback today.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
