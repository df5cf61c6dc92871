//! The simulator: one HTTP listener per device on 127.0.0.1, HTTP Basic
//! auth, a record of every request, schema checking and fault switches.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{Method, StatusCode, Uri, header};
use poem::{Endpoint, Request, Response};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::faults::{Connections, DeviceAcceptor, Fault};
use crate::rest::{self, Call, Reply};
use crate::schema::Schema;
use crate::seed::is_legacy_wireless;
use crate::state::DeviceState;

/// Where a simulated device listens and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDevice {
    pub name: String,
    /// Always `127.0.0.1`.
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

impl SimDevice {
    /// `http://127.0.0.1:<port>/rest`, the base of every REST path.
    pub fn base_url(&self) -> String {
        format!("http://{}:{}/rest", self.host, self.port)
    }
}

/// One request as the device received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: Method,
    /// Relative to `/rest/` and decoded (`ip/address/*1`); the raw path when
    /// it lies outside `/rest/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The JSON body; a body that is not JSON is kept as a string.
    pub body: Option<Value>,
    /// The status the simulator answered with.
    pub status: u16,
}

/// A request the schema refused: a call no RouterOS 7.24 would accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub device: String,
    pub method: Method,
    pub path: String,
    pub message: String,
}

/// A running RouterOS REST simulator. Dropping it stops every device.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<SimState>,
    controls: Mutex<BTreeMap<String, Arc<Control>>>,
}

/// What the request handlers share.
#[derive(Debug)]
struct SimState {
    schema: Option<Schema>,
    devices: Mutex<BTreeMap<String, Slot>>,
    violations: Mutex<Vec<Violation>>,
}

/// One device's credentials, fault, state and request record.
#[derive(Debug)]
struct Slot {
    username: String,
    password: String,
    fault: Fault,
    state: DeviceState,
    requests: Vec<RecordedRequest>,
}

/// One device's listener.
#[derive(Debug)]
struct Control {
    device: SimDevice,
    down: watch::Sender<bool>,
    listening: watch::Receiver<bool>,
    connections: Arc<Connections>,
    server: JoinHandle<()>,
}

/// Locks `mutex`, carrying on after a panic elsewhere (state is plain data).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Simulator {
    /// A simulator with no devices yet. With a schema, every request is
    /// checked against it; without, checking is skipped.
    pub fn start(schema: Option<Schema>) -> Simulator {
        Simulator {
            shared: Arc::new(SimState {
                schema,
                devices: Mutex::new(BTreeMap::new()),
                violations: Mutex::new(Vec::new()),
            }),
            controls: Mutex::new(BTreeMap::new()),
        }
    }

    /// The schema requests are checked against, if any.
    pub fn schema(&self) -> Option<&Schema> {
        self.shared.schema.as_ref()
    }

    /// Starts a device listening on its own port of 127.0.0.1, seeded with
    /// a default configuration, accepting `username`/`password`.
    ///
    /// # Errors
    /// The name is taken, or no port could be bound.
    pub async fn add_device(
        &self,
        name: &str,
        username: &str,
        password: &str,
    ) -> io::Result<SimDevice> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        {
            let mut devices = lock(&self.shared.devices);
            if devices.contains_key(name) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("a simulated device named {name} exists"),
                ));
            }
            let index = u8::try_from(devices.len() + 1).unwrap_or(u8::MAX);
            devices.insert(
                name.to_owned(),
                Slot {
                    username: username.to_owned(),
                    password: password.to_owned(),
                    fault: Fault::None,
                    state: DeviceState::seeded(name, index),
                    requests: Vec::new(),
                },
            );
        }
        let (down, down_rx) = watch::channel(false);
        let (listening_tx, listening) = watch::channel(true);
        let connections = Arc::new(Connections::default());
        let acceptor =
            DeviceAcceptor::new(listener, down_rx, listening_tx, Arc::clone(&connections))?;
        let endpoint = DeviceEndpoint {
            shared: Arc::clone(&self.shared),
            device: name.to_owned(),
        };
        let server = tokio::spawn(async move {
            // Ends only when the acceptor fails for good; nothing to report.
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        let device = SimDevice {
            name: name.to_owned(),
            host: "127.0.0.1".to_owned(),
            port,
            username: username.to_owned(),
            password: password.to_owned(),
        };
        lock(&self.controls).insert(
            name.to_owned(),
            Arc::new(Control {
                device: device.clone(),
                down,
                listening,
                connections,
                server,
            }),
        );
        Ok(device)
    }

    /// Every device, by name.
    pub fn devices(&self) -> Vec<SimDevice> {
        lock(&self.controls)
            .values()
            .map(|c| c.device.clone())
            .collect()
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<SimDevice> {
        lock(&self.controls).get(name).map(|c| c.device.clone())
    }

    /// A copy of the device's state, to look at.
    ///
    /// # Panics
    /// No device has that name.
    pub fn state(&self, device: &str) -> DeviceState {
        self.with_state(device, |state| state.clone())
    }

    /// Runs `f` on the device's state, to look at or change it.
    ///
    /// # Panics
    /// No device has that name.
    pub fn with_state<R>(&self, device: &str, f: impl FnOnce(&mut DeviceState) -> R) -> R {
        self.shared.with_slot(device, |slot| f(&mut slot.state))
    }

    /// Every request the device received, oldest first.
    ///
    /// # Panics
    /// No device has that name.
    pub fn requests(&self, device: &str) -> Vec<RecordedRequest> {
        self.shared.with_slot(device, |slot| slot.requests.clone())
    }

    /// Forgets the device's recorded requests.
    ///
    /// # Panics
    /// No device has that name.
    pub fn clear_requests(&self, device: &str) {
        self.shared.with_slot(device, |slot| slot.requests.clear());
    }

    /// Every request, on any device, that the schema refused.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.shared.violations).clone()
    }

    /// The device's current fault.
    ///
    /// # Panics
    /// No device has that name.
    pub fn fault(&self, device: &str) -> Fault {
        self.shared.with_slot(device, |slot| slot.fault)
    }

    /// Switches the device's fault. Returns once it holds: for
    /// [`Fault::Unreachable`] once the port is closed, and after it once
    /// the port is open again.
    ///
    /// # Panics
    /// No device has that name.
    pub async fn set_fault(&self, device: &str, fault: Fault) {
        let control = lock(&self.controls).get(device).cloned();
        let Some(control) = control else {
            panic!("no simulated device is named {device}");
        };
        self.shared.with_slot(device, |slot| slot.fault = fault);
        let down = fault == Fault::Unreachable;
        control.down.send_replace(down);
        if down {
            control.connections.sever_all();
        }
        let mut listening = control.listening.clone();
        // The acceptor answers at once; the bound only guards against a
        // port that cannot be bound again.
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            listening.wait_for(|open| *open != down),
        )
        .await;
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for control in lock(&self.controls).values() {
            control.server.abort();
            control.connections.sever_all();
        }
    }
}

impl SimState {
    fn with_slot<R>(&self, device: &str, f: impl FnOnce(&mut Slot) -> R) -> R {
        let mut devices = lock(&self.devices);
        match devices.get_mut(device) {
            Some(slot) => f(slot),
            None => panic!("no simulated device is named {device}"),
        }
    }

    fn fault(&self, device: &str) -> Fault {
        lock(&self.devices)
            .get(device)
            .map_or(Fault::None, |slot| slot.fault)
    }

    /// Answers one request to `device` and records it.
    fn handle(
        &self,
        device: &str,
        fault: Fault,
        method: &Method,
        uri: &Uri,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let query: Vec<(String, String)> = uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let path = uri
            .path()
            .strip_prefix("/rest")
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| decode(rest.trim_matches('/')));
        let body: Option<Result<Value, String>> = (!body.trim_ascii().is_empty()).then(|| {
            serde_json::from_slice(body).map_err(|_| String::from_utf8_lossy(body).into_owned())
        });
        let mut devices = lock(&self.devices);
        let Some(slot) = devices.get_mut(device) else {
            return Reply::error(StatusCode::NOT_FOUND, None);
        };
        let reply = self.respond(
            slot,
            device,
            fault,
            method,
            path.as_deref(),
            &query,
            body.as_ref(),
            authorization,
        );
        slot.requests.push(RecordedRequest {
            method: method.clone(),
            path: path.unwrap_or_else(|| uri.path().to_owned()),
            query,
            body: body.map(|b| b.unwrap_or_else(Value::String)),
            status: reply.status.as_u16(),
        });
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &self,
        slot: &mut Slot,
        device: &str,
        fault: Fault,
        method: &Method,
        path: Option<&str>,
        query: &[(String, String)],
        body: Option<&Result<Value, String>>,
        authorization: Option<&str>,
    ) -> Reply {
        match fault {
            Fault::ServerError => {
                return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, Some("simulated fault"));
            }
            Fault::AuthFailure => return Reply::error(StatusCode::UNAUTHORIZED, None),
            _ => {}
        }
        if !authorized(authorization, &slot.username, &slot.password) {
            return Reply::error(StatusCode::UNAUTHORIZED, None);
        }
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            return Reply::error(StatusCode::NOT_FOUND, None);
        };
        let empty = Map::new();
        let body: Option<&Map<String, Value>> = match body {
            None => None,
            Some(Ok(Value::Object(map))) => Some(map),
            Some(Ok(Value::Null)) => Some(&empty),
            Some(Ok(_)) => return Reply::bad("JSON object expected"),
            Some(Err(_)) => return Reply::bad("JSON parse error"),
        };
        if let Some(schema) = self.schema.as_ref().filter(|_| !is_legacy_wireless(path)) {
            let query_keys: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
            let body_keys: Vec<&str> = body
                .into_iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .collect();
            if let Err(message) = schema.check(method, path, &query_keys, &body_keys) {
                lock(&self.violations).push(Violation {
                    device: device.to_owned(),
                    method: method.clone(),
                    path: path.to_owned(),
                    message: message.clone(),
                });
                return Reply::bad(&message);
            }
        }
        let call = Call {
            method,
            path,
            query,
            body,
            user: &slot.username,
        };
        rest::dispatch(&mut slot.state, self.schema.as_ref(), &call)
    }
}

/// Whether an `Authorization: Basic …` header carries these credentials.
fn authorized(header: Option<&str>, username: &str, password: &str) -> bool {
    let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    text.split_once(':') == Some((username, password))
}

/// `%XX` escapes decoded; anything malformed kept as it is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves one device.
struct DeviceEndpoint {
    shared: Arc<SimState>,
    device: String,
}

impl Endpoint for DeviceEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let fault = self.shared.fault(&self.device);
        if let Fault::Slow(delay) = fault {
            tokio::time::sleep(delay).await;
        }
        let body = req.take_body().into_vec().await.unwrap_or_default();
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let reply = self.shared.handle(
            &self.device,
            fault,
            req.method(),
            req.uri(),
            authorization.as_deref(),
            &body,
        );
        if let Fault::LateWriteReply(delay) = fault
            && req.method() != Method::GET
        {
            tokio::time::sleep(delay).await;
        }
        let mut response = Response::builder().status(reply.status);
        if reply.status == StatusCode::UNAUTHORIZED {
            response = response.header(header::WWW_AUTHENTICATE, "Basic realm=\"RouterOS\"");
        }
        Ok(match reply.body {
            Some(body) => response
                .content_type("application/json")
                .body(body.to_string()),
            None => response.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_compared_whole() {
        let header = format!("Basic {}", BASE64.encode("admin:s3cret"));
        assert!(authorized(Some(&header), "admin", "s3cret"));
        assert!(!authorized(Some(&header), "admin", "s3cre"));
        assert!(!authorized(None, "admin", "s3cret"));
        let empty = format!("Basic {}", BASE64.encode("admin:"));
        assert!(authorized(Some(&empty), "admin", ""));
    }

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(decode("ip/address/%2A1"), "ip/address/*1");
        assert_eq!(decode("a%2"), "a%2");
    }
}
