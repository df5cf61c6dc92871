#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The REST client against tiny devices served on loopback: a poem stub for
//! HTTP behaviour, a rustls server with a throwaway CA for the TLS policies,
//! a closed port and a listener that never answers for the retry policy.

use std::io::{Read as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kernel::{DeviceId, ManualClock, SystemClock};
use poem::endpoint::make;
use poem::http::StatusCode;
use poem::{Endpoint, Request, Response};
use routeros::{ClientConfig, RestClient};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tenancy::DeviceCredentials;
use time::macros::datetime;
use tools::{DeviceError, DeviceTarget, RestMethod, RestRequest, RouterOs, TlsPolicy};

const PASSWORD: &str = "s3cret-Pa55word-xyzzy";
/// `Basic base64("admin:" + PASSWORD)`.
const BASIC: &str = "Basic YWRtaW46czNjcmV0LVBhNTV3b3JkLXh5enp5";

// ---------------------------------------------------------------- harness

fn device_id(n: u32) -> DeviceId {
    format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
}

fn target(port: u16, tls: TlsPolicy) -> DeviceTarget {
    DeviceTarget {
        device_id: device_id(1),
        host: "127.0.0.1".to_owned(),
        port,
        tls,
        credentials: DeviceCredentials {
            username: "admin".to_owned(),
            password: PASSWORD.to_owned(),
        },
    }
}

fn plain(port: u16) -> DeviceTarget {
    target(port, TlsPolicy::PlainHttp)
}

/// One attempt, no pauses: for tests about answers, not retries.
fn single_shot() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(5),
        attempts: 1,
        ..ClientConfig::default()
    }
}

fn client(config: ClientConfig) -> RestClient {
    RestClient::new(config, Arc::new(SystemClock))
}

async fn get(client: &RestClient, target: &DeviceTarget, path: &str) -> Result<Value, DeviceError> {
    client.call(target, RestRequest::get(path)).await
}

/// Serves `endpoint` over plain HTTP on a free loopback port.
async fn serve(endpoint: impl Endpoint + 'static) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    port
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that accepts connections, counts them and never answers.
async fn silent_device() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted)
}

fn reply(status: u16, body: impl Into<String>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body.into())
}

fn routeros_error(status: u16, message: &str, detail: Option<&str>) -> Response {
    let mut body = json!({ "error": status, "message": message });
    if let Some(detail) = detail {
        body["detail"] = json!(detail);
    }
    reply(status, body.to_string())
}

/// A RouterOS stand-in that answers by path; anything else is echoed back.
async fn device_stub(mut req: Request) -> Response {
    let path = req.uri().path().to_owned();
    match path.strip_prefix("/rest/").unwrap_or_default() {
        "empty" => reply(200, ""),
        "blank" => reply(200, " \n"),
        "text" => reply(200, "<html>hello</html>"),
        "big" => reply(200, format!("\"{}\"", "x".repeat(2 * 1024 * 1024))),
        "redirect" => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "http://example.invalid/rest/ip/address")
            .finish(),
        "status/400" => routeros_error(400, "Bad Request", Some("no such item")),
        "status/422" => routeros_error(422, "Unprocessable Entity", None),
        "status/409" => reply(409, "not json"),
        "status/401" => routeros_error(401, "Unauthorized", None),
        "status/403" => routeros_error(403, "Forbidden", None),
        "status/404" => routeros_error(404, "Not Found", None),
        "status/500" => routeros_error(500, "Internal Server Error", Some("failure: busy")),
        "status/503" => reply(503, ""),
        "status/long" => routeros_error(400, "Bad Request", Some(&"é".repeat(1000))),
        "echo-password/400" => routeros_error(
            400,
            "Bad Request",
            Some(&format!("bad password {PASSWORD}")),
        ),
        "echo-password/500" => routeros_error(500, PASSWORD, None),
        _ => echo(&mut req).await,
    }
}

/// Answers with what arrived: method, path, query, auth, content type, body.
async fn echo(req: &mut Request) -> Response {
    let header = |name: &str| req.header(name).map(str::to_owned);
    let (auth, content_type) = (header("authorization"), header("content-type"));
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let bytes = req.take_body().into_vec().await.unwrap();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    if method == "DELETE" {
        return Response::builder().status(StatusCode::NO_CONTENT).finish();
    }
    let echoed = json!({
        "method": method, "path": path, "query": query,
        "auth": auth, "content_type": content_type, "body": body,
    });
    reply(200, echoed.to_string())
}

async fn stub() -> u16 {
    serve(make(device_stub)).await
}

/// A device that fails with HTTP 500 while `failing` is set, and counts hits.
async fn flaky_device(failing: Arc<AtomicBool>) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let port = serve(make(move |_req: Request| {
        counter.fetch_add(1, Ordering::SeqCst);
        let failing = failing.load(Ordering::SeqCst);
        async move {
            if failing {
                routeros_error(500, "Internal Server Error", Some("busy"))
            } else {
                reply(200, "[]")
            }
        }
    }))
    .await;
    (port, hits)
}

/// A device that always answers with `status`, and counts hits.
async fn fixed_device(status: u16) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let port = serve(make(move |_req: Request| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move { routeros_error(status, "status", Some("as configured")) }
    }))
    .await;
    (port, hits)
}

// ------------------------------------------------------------ round trips

#[tokio::test]
async fn a_name_that_resolves_to_loopback_gets_no_call_unless_private_hosts_are_allowed() {
    let port = stub().await;
    let mut device = plain(port);
    device.host = "localhost".to_owned();
    let strict = client(single_shot());
    let err = get(&strict, &device, "ip/address").await.unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable(_)), "{err:?}");
    assert!(!err.to_string().contains(PASSWORD));
    let lenient = client(ClientConfig {
        allow_private_hosts: true,
        ..single_shot()
    });
    let got = get(&lenient, &device, "ip/address").await.unwrap();
    assert_eq!(
        got["auth"], BASIC,
        "simulated devices on loopback still work"
    );
}

#[tokio::test]
async fn every_method_round_trips_with_basic_auth() {
    let port = stub().await;
    let client = client(single_shot());
    let device = plain(port);

    let mut request = RestRequest::get("ip/address");
    request.query = vec![
        ("interface".to_owned(), "ether1".to_owned()),
        ("comment".to_owned(), "a b&c=d+é".to_owned()),
    ];
    let got = client.call(&device, request).await.unwrap();
    assert_eq!(got["method"], "GET");
    assert_eq!(got["path"], "/rest/ip/address");
    assert_eq!(
        got["query"],
        "interface=ether1&comment=a%20b%26c%3Dd%2B%C3%A9"
    );
    assert_eq!(got["auth"], BASIC);
    assert_eq!(got["body"], Value::Null);

    let body = json!({ "address": "192.0.2.1/24", "interface": "ether1" });
    let got = client
        .call(
            &device,
            RestRequest::new(RestMethod::Put, "ip/address", Some(body.clone())),
        )
        .await
        .unwrap();
    assert_eq!(got["method"], "PUT");
    assert_eq!(got["body"], body);
    assert_eq!(got["auth"], BASIC);
    assert_eq!(got["content_type"], "application/json");

    let patch = json!({ "comment": "uplink" });
    let got = client
        .call(
            &device,
            RestRequest::new(RestMethod::Patch, "ip/address/*1A", Some(patch.clone())),
        )
        .await
        .unwrap();
    assert_eq!(got["method"], "PATCH");
    assert_eq!(got["path"], "/rest/ip/address/*1A");
    assert_eq!(got["body"], patch);

    let got = client
        .call(
            &device,
            RestRequest::new(RestMethod::Delete, "ip/address/*1A", None),
        )
        .await
        .unwrap();
    assert_eq!(got, Value::Null, "204 No Content is null");

    let ping = json!({ "address": "192.0.2.2", "count": "1" });
    let got = client
        .call(
            &device,
            RestRequest::new(RestMethod::Post, "tool/ping", Some(ping.clone())),
        )
        .await
        .unwrap();
    assert_eq!(got["method"], "POST");
    assert_eq!(got["path"], "/rest/tool/ping");
    assert_eq!(got["body"], ping);
    assert_eq!(got["auth"], BASIC);
}

#[tokio::test]
async fn ipv6_hosts_are_bracketed_and_reached() {
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        return; // no IPv6 loopback here
    };
    let port = listener.local_addr().unwrap().port();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(make(device_stub)));
    let mut device = plain(port);
    device.host = "::1".to_owned();
    let got = get(&client(single_shot()), &device, "system/resource")
        .await
        .unwrap();
    assert_eq!(got["path"], "/rest/system/resource");
}

#[test]
fn urls_are_built_from_the_target() {
    let mut device = target(443, TlsPolicy::Verify);
    device.host = "2001:db8::1".to_owned();
    let url = routeros::rest_url(&device, &RestRequest::get("ip/address/*1")).unwrap();
    assert_eq!(url.as_str(), "https://[2001:db8::1]/rest/ip/address/*1");

    device.host = "[2001:db8::1]".to_owned();
    let url = routeros::rest_url(&device, &RestRequest::get("system/identity")).unwrap();
    assert_eq!(url.as_str(), "https://[2001:db8::1]/rest/system/identity");

    device.host = "Router-1.example.net".to_owned();
    device.port = 8080;
    device.tls = TlsPolicy::PlainHttp;
    let url = routeros::rest_url(&device, &RestRequest::get("interface")).unwrap();
    assert_eq!(
        url.as_str(),
        "http://router-1.example.net:8080/rest/interface"
    );

    for host in [
        "evil.example/x",
        "user@evil.example",
        "",
        "a b",
        "-x",
        "fe80::1%eth0",
    ] {
        device.host = host.to_owned();
        let err = routeros::rest_url(&device, &RestRequest::get("interface")).unwrap_err();
        assert!(
            matches!(err, DeviceError::Unreachable(_)),
            "{host:?}: {err:?}"
        );
    }
}

// -------------------------------------------------------- path validation

#[tokio::test]
async fn bad_paths_are_refused_before_sending() {
    // Nothing listens: a request that went out would be Unreachable.
    let device = plain(closed_port());
    let client = client(single_shot());
    let refused = [
        "../etc/passwd",
        "ip/../user",
        "ip/./address",
        "ip address",
        "ip/address/ ",
        "",
        "/ip/address",
        "ip//address",
        "ip/address/",
        "ip/address?x=1",
        "ip/address#frag",
        "ip/%2e%2e/user",
        "ip/addréss",
        "ip\\address",
    ];
    for path in refused {
        let err = get(&client, &device, path).await.unwrap_err();
        assert!(
            matches!(err, DeviceError::BadRequest(_)),
            "{path:?}: {err:?}"
        );
    }
    assert!(routeros::validate_path("ip/firewall/filter/*1A").is_ok());
    assert!(routeros::validate_path("interface/wifi/registration-table").is_ok());
    assert!(
        routeros::validate_path(&"a/".repeat(200)).is_err(),
        "too long"
    );
    let err = get(&client, &device, "ip/address/*1A").await.unwrap_err();
    assert!(matches!(err, DeviceError::Unreachable(_)), "{err:?}");
}

// --------------------------------------------------------- status mapping

#[tokio::test]
async fn statuses_map_to_device_errors() {
    let device = plain(stub().await);
    let client = client(single_shot());
    let cases = [
        (
            "status/400",
            DeviceError::BadRequest("no such item".to_owned()),
        ),
        (
            "status/422",
            DeviceError::BadRequest("Unprocessable Entity".to_owned()),
        ),
        ("status/409", DeviceError::BadRequest("Conflict".to_owned())),
        ("status/401", DeviceError::Unauthorized),
        ("status/403", DeviceError::Forbidden),
        ("status/404", DeviceError::NotFound),
        (
            "status/500",
            DeviceError::Server(500, "failure: busy".to_owned()),
        ),
        (
            "status/503",
            DeviceError::Server(503, "Service Unavailable".to_owned()),
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(
            get(&client, &device, path).await.unwrap_err(),
            expected,
            "{path}"
        );
    }

    let DeviceError::BadRequest(long) = get(&client, &device, "status/long").await.unwrap_err()
    else {
        panic!("expected BadRequest");
    };
    assert_eq!(long.chars().count(), 301, "300 characters and an ellipsis");
    assert!(long.ends_with('…'));
}

#[tokio::test]
async fn replies_that_are_empty_unreadable_or_too_large() {
    let device = plain(stub().await);
    let client = client(single_shot());
    assert_eq!(get(&client, &device, "empty").await.unwrap(), Value::Null);
    assert_eq!(get(&client, &device, "blank").await.unwrap(), Value::Null);
    assert_eq!(
        get(&client, &device, "text").await.unwrap_err(),
        DeviceError::BadReply
    );
    assert_eq!(
        get(&client, &device, "big").await.unwrap_err(),
        DeviceError::BadReply
    );
    // A redirect is neither followed nor a REST answer.
    assert_eq!(
        get(&client, &device, "redirect").await.unwrap_err(),
        DeviceError::BadReply
    );
}

// ---------------------------------------------------------------- retries

/// Asserts that `expected` of paused time passed since `started`, give or
/// take the timer wheel's millisecond rounding.
fn assert_took(started: tokio::time::Instant, expected: Duration, method: RestMethod) {
    let elapsed = started.elapsed();
    assert!(
        elapsed >= expected && elapsed < expected + Duration::from_millis(100),
        "{method:?}: took {elapsed:?}, expected {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn refused_connections_are_retried_with_backoff_for_every_method() {
    let device = plain(closed_port());
    let client = client(ClientConfig::default());
    for method in [RestMethod::Get, RestMethod::Put, RestMethod::Post] {
        let started = tokio::time::Instant::now();
        let err = client
            .call(
                &device,
                RestRequest::new(method, "ip/address", Some(json!({}))),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, DeviceError::Unreachable(_)),
            "{method:?}: {err:?}"
        );
        // Three attempts: pauses of 500 ms and 1 s between them, and the
        // refusals themselves take no (paused) time.
        assert_took(started, Duration::from_millis(1500), method);
    }
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_retried_only_for_idempotent_methods() {
    let client = client(ClientConfig::default());
    let cases = [
        (RestMethod::Get, 3, Duration::from_millis(16_500)),
        (RestMethod::Delete, 3, Duration::from_millis(16_500)),
        (RestMethod::Put, 1, Duration::from_secs(5)),
        (RestMethod::Post, 1, Duration::from_secs(5)),
    ];
    for (method, attempts, total) in cases {
        let (port, accepted) = silent_device().await;
        let started = tokio::time::Instant::now();
        let err = client
            .call(
                &plain(port),
                RestRequest::new(method, "system/reboot", None),
            )
            .await
            .unwrap_err();
        assert_eq!(err, DeviceError::Timeout, "{method:?}");
        assert_took(started, total, method);
        tokio::task::yield_now().await;
        assert_eq!(accepted.load(Ordering::SeqCst), attempts, "{method:?}");
    }
}

/// A listener whose accept queue is full, so that new connections hang
/// unanswered; `None` where the kernel does not drop such SYNs.
async fn unaccepting_device() -> Option<(u16, tokio::net::TcpListener, Vec<tokio::net::TcpStream>)>
{
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(200), connect).await {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(_)) => return None,
            Err(_) => return Some((addr.port(), listener, held)),
        }
    }
    None
}

#[tokio::test]
async fn connect_timeouts_are_retried_for_every_method() {
    let Some((port, _listener, _held)) = unaccepting_device().await else {
        return; // this kernel answers or refuses instead of hanging
    };
    tokio::time::pause();
    let client = client(ClientConfig::default());
    for method in [RestMethod::Get, RestMethod::Post] {
        let started = tokio::time::Instant::now();
        let err = client
            .call(
                &plain(port),
                RestRequest::new(method, "system/reboot", None),
            )
            .await
            .unwrap_err();
        assert_eq!(err, DeviceError::Timeout, "{method:?}");
        // Three connect timeouts of 3 s, pauses of 500 ms and 1 s.
        assert_took(started, Duration::from_millis(10_500), method);
    }
}

#[tokio::test]
async fn http_errors_are_not_retried() {
    let (port, hits) = fixed_device(500).await;
    let client = client(ClientConfig {
        backoff_base: Duration::from_millis(1),
        ..ClientConfig::default()
    });
    let err = get(&client, &plain(port), "ip/address").await.unwrap_err();
    assert!(matches!(err, DeviceError::Server(500, _)), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- breaker

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_and_closes_after_cooldown() {
    let failing = Arc::new(AtomicBool::new(true));
    let (port, hits) = flaky_device(failing.clone()).await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 12:00:00 UTC)));
    let config = ClientConfig {
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_secs(30),
        ..single_shot()
    };
    let client = RestClient::new(config, clock.clone());
    let device = plain(port);
    let mut other = plain(port);
    other.device_id = device_id(2);

    for _ in 0..2 {
        let err = get(&client, &device, "ip/address").await.unwrap_err();
        assert!(matches!(err, DeviceError::Server(500, _)), "{err:?}");
    }
    let open = DeviceError::CircuitOpen("2026-03-01T12:00:30Z".to_owned());
    assert_eq!(get(&client, &device, "ip/address").await.unwrap_err(), open);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "an open circuit sends nothing"
    );
    assert!(
        matches!(
            get(&client, &other, "ip/address").await,
            Err(DeviceError::Server(..))
        ),
        "circuits are per device"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    clock.advance(time::Duration::seconds(29));
    assert_eq!(get(&client, &device, "ip/address").await.unwrap_err(), open);

    // Half-open: one trial, which fails and reopens the circuit at once.
    clock.advance(time::Duration::seconds(1));
    let err = get(&client, &device, "ip/address").await.unwrap_err();
    assert!(matches!(err, DeviceError::Server(500, _)), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    assert_eq!(
        get(&client, &device, "ip/address").await.unwrap_err(),
        DeviceError::CircuitOpen("2026-03-01T12:01:00Z".to_owned())
    );

    // The next trial succeeds and closes it.
    clock.advance(time::Duration::seconds(30));
    failing.store(false, Ordering::SeqCst);
    assert_eq!(
        get(&client, &device, "ip/address").await.unwrap(),
        json!([])
    );
    failing.store(true, Ordering::SeqCst);
    let err = get(&client, &device, "ip/address").await.unwrap_err();
    assert!(
        matches!(err, DeviceError::Server(500, _)),
        "closed again: {err:?}"
    );
}

#[tokio::test]
async fn client_errors_and_unreachable_devices_count_as_expected() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 12:00:00 UTC)));
    let config = ClientConfig {
        breaker_threshold: 2,
        ..single_shot()
    };
    let client = RestClient::new(config, clock);

    // 4xx means the device is up: never opens.
    let (port, hits) = fixed_device(404).await;
    for _ in 0..5 {
        assert_eq!(
            get(&client, &plain(port), "ip/address").await.unwrap_err(),
            DeviceError::NotFound
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 5);

    // Unreachable counts.
    let mut down = plain(closed_port());
    down.device_id = device_id(3);
    for _ in 0..2 {
        let err = get(&client, &down, "ip/address").await.unwrap_err();
        assert!(matches!(err, DeviceError::Unreachable(_)), "{err:?}");
    }
    let err = get(&client, &down, "ip/address").await.unwrap_err();
    assert!(matches!(err, DeviceError::CircuitOpen(_)), "{err:?}");
}

// -------------------------------------------------------------------- TLS

/// A device behind HTTPS whose leaf certificate (for 127.0.0.1) is signed
/// by a throwaway CA; counts TLS connections.
struct TlsDevice {
    port: u16,
    ca_pem: String,
    leaf_sha256: [u8; 32],
    connections: Arc<AtomicUsize>,
}

fn tls_device() -> TlsDevice {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rosgate test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let config = config.clone();
            std::thread::spawn(move || answer_over_tls(config, tcp));
        }
    });
    TlsDevice {
        port,
        ca_pem: ca.pem(),
        leaf_sha256: Sha256::digest(leaf.der()).into(),
        connections,
    }
}

/// Reads one HTTP request over TLS and answers it with a JSON list.
fn answer_over_tls(config: Arc<rustls::ServerConfig>, tcp: std::net::TcpStream) {
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return, // e.g. the client refused our certificate
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let body = r#"[{".id":"*1","name":"ether1"}]"#;
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(body.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

#[tokio::test]
async fn tls_policies_accept_the_right_certificate_only() {
    let server = tls_device();
    let client = client(ClientConfig::default());
    let expected = json!([{ ".id": "*1", "name": "ether1" }]);
    let call = |policy| {
        let device = target(server.port, policy);
        let client = &client;
        async move { get(client, &device, "interface").await }
    };

    assert_eq!(
        call(TlsPolicy::Pinned(server.leaf_sha256)).await.unwrap(),
        expected
    );
    assert_eq!(
        call(TlsPolicy::CaPem(server.ca_pem.clone())).await.unwrap(),
        expected
    );

    let before = server.connections.load(Ordering::SeqCst);
    let err = call(TlsPolicy::Pinned([7; 32])).await.unwrap_err();
    let DeviceError::Tls(message) = &err else {
        panic!("expected Tls, got {err:?}");
    };
    assert!(message.contains("not the pinned one"), "{message}");
    assert!(message.contains(&hex(&server.leaf_sha256)), "{message}");
    assert_eq!(
        server.connections.load(Ordering::SeqCst) - before,
        1,
        "a refused certificate is not retried"
    );

    let err = call(TlsPolicy::Verify).await.unwrap_err();
    assert!(matches!(err, DeviceError::Tls(_)), "{err:?}");

    let other_ca = tls_device().ca_pem;
    let err = call(TlsPolicy::CaPem(other_ca)).await.unwrap_err();
    assert!(matches!(err, DeviceError::Tls(_)), "{err:?}");

    let err = call(TlsPolicy::CaPem("not a certificate".to_owned()))
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::Tls(_)), "{err:?}");

    // Plain HTTP to a TLS port gets no HTTP answer.
    let err = call(TlsPolicy::PlainHttp).await.unwrap_err();
    assert!(!matches!(err, DeviceError::Tls(_)), "{err:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------- secrets

/// Collects everything the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_error_debug_output_or_log_line_carries_the_password() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global, not `set_default`: with a single scoped dispatcher, tracing
    // caches the interest of callsites first hit on other test threads as
    // "never", and this test would see no debug lines at all. It also sees
    // the lines of the tests running beside it, which must be clean too.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let stub = stub().await;
    let (silent, _) = silent_device().await;
    let tls = tls_device();
    let (failing, _) = fixed_device(500).await;
    let client = client(ClientConfig {
        timeout: Duration::from_millis(300),
        attempts: 2,
        backoff_base: Duration::from_millis(1),
        breaker_threshold: 1,
        ..ClientConfig::default()
    });

    let mut errors = Vec::new();
    let mut call = async |device: DeviceTarget, path: &str| {
        let err = get(&client, &device, path).await.unwrap_err();
        errors.push(err);
    };
    let with_id = |mut target: DeviceTarget, n| {
        target.device_id = device_id(n);
        target
    };
    call(with_id(plain(closed_port()), 10), "ip/address").await; // Unreachable
    call(with_id(plain(silent), 11), "ip/address").await; // Timeout
    let pinned = TlsPolicy::Pinned([1; 32]);
    call(with_id(target(tls.port, pinned), 12), "ip/address").await; // Tls
    let bad_ca = TlsPolicy::CaPem(PASSWORD.to_owned());
    call(with_id(target(tls.port, bad_ca), 13), "ip/address").await; // Tls (setup)
    for path in [
        "status/401",
        "status/403",
        "status/404",
        "status/400",
        "echo-password/400",
        "text",
        "../user",
        "ip address",
    ] {
        call(with_id(plain(stub), 14), path).await;
    }
    call(with_id(plain(stub), 15), "echo-password/500").await; // Server, opens
    call(with_id(plain(stub), 15), "ip/address").await; // CircuitOpen
    call(with_id(plain(failing), 16), "ip/address").await; // Server
    let mut bad_host = with_id(plain(stub), 17);
    bad_host.host = format!("{PASSWORD}/@x");
    call(bad_host, "ip/address").await; // Unreachable (host)

    let kinds: Vec<_> = errors.iter().map(std::mem::discriminant).collect();
    for expected in [
        DeviceError::Unreachable(String::new()),
        DeviceError::Timeout,
        DeviceError::Tls(String::new()),
        DeviceError::Unauthorized,
        DeviceError::Forbidden,
        DeviceError::NotFound,
        DeviceError::BadRequest(String::new()),
        DeviceError::Server(0, String::new()),
        DeviceError::CircuitOpen(String::new()),
        DeviceError::BadReply,
    ] {
        assert!(
            kinds.contains(&std::mem::discriminant(&expected)),
            "no {expected:?} in {errors:?}"
        );
    }
    for err in &errors {
        assert!(!err.to_string().contains(PASSWORD), "{err}");
        assert!(!format!("{err:?}").contains(PASSWORD), "{err:?}");
    }
    assert!(
        errors.iter().any(|e| e.to_string().contains("<redacted>")),
        "the echoed password was scrubbed: {errors:?}"
    );
    assert!(!format!("{client:?}").contains(PASSWORD));
    assert!(!format!("{:?}", plain(stub)).contains(PASSWORD));

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("routeros call answered"),
        "debug logs are written: {logs}"
    );
    assert!(!logs.contains(PASSWORD), "{logs}");
    assert!(!logs.contains(BASIC.trim_start_matches("Basic ")), "{logs}");
}
