//! The admin API client: requests with the admin key, problem responses turned into
//! one-line errors.

use crate::commands::Global;
use anyhow::{Context, bail};
use gatehouse_api::Problem;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A client for one Gatehouse server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    /// A client from the global options; fails without an admin key.
    pub fn new(global: &Global) -> anyhow::Result<Self> {
        // An empty variable is as good as none: say so rather than send an empty key.
        let key = global
            .admin_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .context("set GATEHOUSE_ADMIN_KEY (or --admin-key) to an admin API key")?
            .to_owned();
        let http = reqwest::Client::builder()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base: global.url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// `GET path` with query pairs.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        decode(self.request(Method::GET, path).query(query)).await
    }

    /// A request with a JSON body.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        decode(self.request(method, path).json(body)).await
    }

    /// A request without a body.
    pub async fn call<T: DeserializeOwned>(&self, method: Method, path: &str) -> anyhow::Result<T> {
        decode(self.request(method, path)).await
    }

    /// A request expecting `204 No Content`.
    pub async fn call_empty(&self, method: Method, path: &str) -> anyhow::Result<()> {
        let response = self
            .request(method, path)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Err(failure(response).await)
    }
}

async fn decode<T: DeserializeOwned>(request: RequestBuilder) -> anyhow::Result<T> {
    let response = request
        .send()
        .await
        .context("cannot reach the Gatehouse server")?;
    if !response.status().is_success() {
        return Err(failure(response).await);
    }
    response
        .json::<T>()
        .await
        .context("unexpected response from the server")
}

async fn failure(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    match response.json::<Problem>().await {
        Ok(p) => anyhow::anyhow!("{} {}: {}", p.status, p.code, p.detail),
        Err(_) => anyhow::anyhow!("the server answered {status}"),
    }
}

/// Parses `LIMIT/DURATION` such as `100/60s`.
pub fn parse_rate(text: &str) -> anyhow::Result<gatehouse_api::keys::RateLimit> {
    let (limit, duration) = text
        .split_once('/')
        .context("rate limit must look like 100/60s")?;
    let limit: u32 = limit
        .trim()
        .parse()
        .context("rate limit: LIMIT must be a whole number")?;
    let duration = duration.trim();
    let split = duration
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(duration.len());
    let (n, unit) = duration.split_at(split);
    let n: u64 = n
        .parse()
        .context("rate limit: DURATION must start with a number")?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        other => bail!("rate limit: unknown unit {other:?} (ms, s, m, h)"),
    };
    Ok(gatehouse_api::keys::RateLimit {
        limit,
        duration_ms: ms,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_rate("100/60s").unwrap().duration_ms, 60_000);
        assert_eq!(parse_rate("5/250ms").unwrap().duration_ms, 250);
        assert_eq!(parse_rate("1/1h").unwrap().duration_ms, 3_600_000);
        assert!(parse_rate("x/1s").is_err());
        assert!(parse_rate("10/1d").is_err());
    }
}
