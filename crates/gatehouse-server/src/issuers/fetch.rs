//! Fetching an issuer's documents over HTTP, with bounds on time and size: a slow or
//! hostile issuer must not be able to hold a verification or fill memory.

use super::settings::{check_fetchable, discovery_url, fetchable_url};
use reqwest::header::{ACCEPT, CACHE_CONTROL};
use reqwest::{Client, StatusCode, Url};
use serde::Deserialize;
use std::time::Duration;

/// Largest document accepted (JWK Set or discovery metadata).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Why a fetch failed. Never shown to clients; logged with the issuer and URL.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("refused URL: {0}")]
    Url(String),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("answered with status {0}")]
    Status(StatusCode),
    #[error("document larger than {} bytes", MAX_DOCUMENT_BYTES)]
    TooLarge,
    #[error("not a valid {0}: {1}")]
    Json(&'static str, serde_json::Error),
    #[error("discovery document names issuer {0:?}, not ours")]
    IssuerMismatch(String),
}

/// A document and the caching its server asked for.
pub(crate) struct Document {
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
}

/// GETs `url`, all of it (connect, headers, body) within `timeout`.
pub(crate) async fn get(
    http: &Client,
    url: &Url,
    timeout: Duration,
) -> Result<Document, FetchError> {
    tokio::time::timeout(timeout, get_unbounded_in_time(http, url))
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}

async fn get_unbounded_in_time(http: &Client, url: &Url) -> Result<Document, FetchError> {
    check_fetchable(url).map_err(FetchError::Url)?;
    let mut response = http
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await?;
    // The client may follow redirects; wherever the answer came from obeys the same
    // rule as the configured URL (no downgrade to plain http on the way).
    check_fetchable(response.url()).map_err(FetchError::Url)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let cache_control = cache_control(response.headers());
    // Read by chunks and stop at the limit: a body without a length (chunked) may be
    // endless.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Document {
        body,
        cache_control,
    })
}

/// All `Cache-Control` values, joined as one list (RFC 9110 §5.3).
fn cache_control(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The members of OIDC discovery metadata (or RFC 8414 metadata) that are read.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

/// Finds `issuer`'s JWK Set URL by OIDC discovery. The document must name exactly our
/// issuer (OIDC Discovery §4.3, RFC 8414 §3.3): otherwise whoever answers at that URL
/// could vouch for keys of another issuer.
pub(crate) async fn discover(
    http: &Client,
    issuer: &str,
    timeout: Duration,
) -> Result<Url, FetchError> {
    let url = fetchable_url(&discovery_url(issuer)).map_err(FetchError::Url)?;
    let document = get(http, &url, timeout).await?;
    let metadata: Metadata = serde_json::from_slice(&document.body)
        .map_err(|e| FetchError::Json("discovery document", e))?;
    if metadata.issuer != issuer {
        return Err(FetchError::IssuerMismatch(metadata.issuer));
    }
    fetchable_url(&metadata.jwks_uri).map_err(FetchError::Url)
}
