//! The HTTP client `oauth2` calls through: reqwest, no redirects (a token
//! endpoint that redirects is misconfigured or hostile), bounded time.

use std::time::Duration;

/// A client for talking to the identity provider.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("rosgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Largest reply read from the provider (discovery, keys, tokens).
pub const MAX_REPLY: usize = 256 * 1024;

/// Sends an `oauth2` request with reqwest and returns its reply.
pub async fn send(
    client: reqwest::Client,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = req.into_parts();
    let mut out = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = ::http::Response::builder().status(out.status());
    for (k, v) in out.headers() {
        builder = builder.header(k, v);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = out.chunk().await? {
        if bytes.len() + chunk.len() > MAX_REPLY {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    // Status and headers were copied from a valid response: building cannot fail.
    Ok(builder
        .body(bytes)
        .unwrap_or_else(|_| ::http::Response::new(Vec::new())))
}

/// GETs JSON from the provider.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    let mut resp = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status()));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
        if bytes.len() + chunk.len() > MAX_REPLY {
            return Err(format!("GET {url}: reply larger than {MAX_REPLY} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("GET {url}: not the expected JSON: {e}"))
}

/// GETs the UserInfo endpoint (Core §5.3) with an access token: the claims,
/// or `None` when the provider refuses this token there (401/403: an access
/// token issued for another resource, RFC 8707).
pub async fn userinfo(
    client: &reqwest::Client,
    url: &str,
    access_token: &str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
    let mut resp = client
        .get(url)
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
        if bytes.len() + chunk.len() > MAX_REPLY {
            return Err(format!("GET {url}: reply larger than {MAX_REPLY} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    // Signed or encrypted UserInfo replies (application/jwt) are not asked for.
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("GET {url}: not a JSON object: {e}"))
}
