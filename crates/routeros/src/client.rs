//! [`RestClient`]: the [`RouterOs`] port over the RouterOS v7 REST API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use kernel::Clock;
use serde_json::Value;
use tokio::time::Instant;
use tools::{DeviceError, DeviceTarget, RestMethod, RestRequest, RouterOs, TlsPolicy};

use crate::breaker::{self, Breaker};
use crate::retry::{self, Failure};
use crate::tls::{self, TlsKey};
use crate::{ClientConfig, errors, url};

/// Largest reply body read from a device; RouterOS prints of big tables
/// (routes, connections) should be filtered with a query instead.
pub(crate) const MAX_REPLY: usize = 1024 * 1024;

/// Sends REST calls to RouterOS devices.
///
/// One instance serves every device: it keeps one connection pool per TLS
/// policy and one circuit breaker per device. Clone-free: share it in an
/// `Arc`.
pub struct RestClient {
    config: ClientConfig,
    breaker: Breaker,
    clients: Mutex<HashMap<TlsKey, reqwest::Client>>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("config", &self.config)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to: an HTTP answer (itself a success or an error
/// the device reported), or no answer at all.
type Attempt = Result<Result<Value, DeviceError>, Failure>;

impl RestClient {
    /// A client with `config`, reading the time for its circuit breaker
    /// from `clock`.
    pub fn new(config: ClientConfig, clock: Arc<dyn Clock>) -> Self {
        let breaker = Breaker::new(config.breaker_threshold, config.breaker_cooldown, clock);
        Self {
            config,
            breaker,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration this client runs with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The HTTP client for `policy`, built on first use.
    fn http_client(&self, policy: &TlsPolicy) -> Result<reqwest::Client, DeviceError> {
        let key = TlsKey::from(policy);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = tls::build_client(policy, &self.config)?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    async fn call_unredacted(
        &self,
        target: &DeviceTarget,
        request: &RestRequest,
    ) -> Result<Value, DeviceError> {
        let url = url::rest_url(target, request)?;
        let http = self.http_client(&target.tls)?;
        let permit = self.breaker.admit(target.device_id)?;
        let result = self.send_with_retries(&http, &url, target, request).await;
        permit.record(breaker::counts_as_failure(&result));
        result
    }

    async fn send_with_retries(
        &self,
        http: &reqwest::Client,
        url: &reqwest::Url,
        target: &DeviceTarget,
        request: &RestRequest,
    ) -> Result<Value, DeviceError> {
        let attempts = self.config.attempts.max(1);
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = self.send_once(http, url, target, request).await;
            let elapsed_ms = started.elapsed().as_millis();
            match outcome {
                Ok(answer) => return answer,
                Err(failure) => {
                    let retry = attempt < attempts && retry::may_retry(request.method, &failure);
                    let error = errors::redact(failure.error, &target.credentials.password);
                    tracing::debug!(
                        device = %target.device_id,
                        method = ?request.method,
                        path = %request.path,
                        attempt,
                        elapsed_ms,
                        error = %error,
                        retry,
                        "routeros call got no answer"
                    );
                    if !retry {
                        return Err(error);
                    }
                    tokio::time::sleep(retry::backoff(&self.config, attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn send_once(
        &self,
        http: &reqwest::Client,
        url: &reqwest::Url,
        target: &DeviceTarget,
        request: &RestRequest,
    ) -> Attempt {
        let started = Instant::now();
        let method = match request.method {
            RestMethod::Get => reqwest::Method::GET,
            RestMethod::Put => reqwest::Method::PUT,
            RestMethod::Patch => reqwest::Method::PATCH,
            RestMethod::Delete => reqwest::Method::DELETE,
            RestMethod::Post => reqwest::Method::POST,
        };
        let credentials = &target.credentials;
        let mut builder = http
            .request(method, url.clone())
            .basic_auth(&credentials.username, Some(&credentials.password))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|err| errors::from_transport(&err))?;
        let status = response.status().as_u16();
        let body = read_body(&mut response)
            .await
            .map_err(|err| errors::from_transport(&err))?;
        tracing::debug!(
            device = %target.device_id,
            method = ?request.method,
            path = %request.path,
            status,
            elapsed_ms = started.elapsed().as_millis(),
            "routeros call answered"
        );
        Ok(match (status, body) {
            (200..=299, Some(body)) => parse_reply(&body),
            (400..=599, body) => Err(errors::from_status(status, &body.unwrap_or_default())),
            // Too large, or a redirect or other status REST never sends.
            _ => Err(DeviceError::BadReply),
        })
    }
}

/// The body, or `None` if it is larger than [`MAX_REPLY`].
async fn read_body(response: &mut reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_REPLY as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_REPLY {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A successful reply as JSON; an empty body (204, or 200 after a command
/// that prints nothing) is `null`.
fn parse_reply(body: &[u8]) -> Result<Value, DeviceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| DeviceError::BadReply)
}

#[async_trait]
impl RouterOs for RestClient {
    async fn call(
        &self,
        target: &DeviceTarget,
        request: RestRequest,
    ) -> Result<Value, DeviceError> {
        self.call_unredacted(target, &request)
            .await
            .map_err(|err| errors::redact(err, &target.credentials.password))
    }
}
