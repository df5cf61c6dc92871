//! A real OpenID Connect provider for integration tests, and a scripted
//! "browser" that logs people in through it.
//!
//! [`TestIdp::start`] runs the npm package `oidc-provider` (pinned in
//! `crates/testkit/idp/package.json`) under Node.js on `127.0.0.1`, with one
//! confidential client (`client_secret_basic`, PKCE S256 required, ES256 ID
//! tokens), refresh tokens, revocation, RP-initiated logout and JWT access
//! tokens for one resource (the API audience). The first start in a process
//! runs `npm ci` in the `idp` folder when `node_modules` is missing or stale.
//!
//! [`IdpBrowser`] follows an authorization URL through the provider's
//! development login and consent forms back to the client's `redirect_uri`,
//! and through its logout confirmation.
//!
//! Node.js 20+ and npm must be installed.
//!
//! ```no_run
//! # async fn demo() {
//! use testkit::idp::{IdpAccount, IdpBrowser, IdpOptions, TestIdp};
//!
//! let idp = TestIdp::start(IdpOptions {
//!     redirect_uri: "http://127.0.0.1:8080/auth/callback".into(),
//!     post_logout_redirect_uri: "http://127.0.0.1:8080/".into(),
//!     resource: "http://127.0.0.1:8080".into(),
//!     accounts: vec![IdpAccount::new("alice", "alice@example.test", "Alice", &["netops"])],
//!     claims: Default::default(),
//! })
//! .await;
//! // Point the relying party at idp.issuer / idp.client_id / idp.client_secret,
//! // have it build an authorization URL, then:
//! # let authorize_url = String::new();
//! let browser = IdpBrowser::new();
//! let callback = browser.login(&authorize_url, "alice").await;
//! // `callback` is http://127.0.0.1:8080/auth/callback?code=…&state=…&iss=…
//! # let _ = (idp, callback);
//! # }
//! ```

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

const NODE_HINT: &str = "install Node.js 20+ and npm (the test identity provider runs on them)";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A person the identity provider knows. Any password logs them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpAccount {
    /// The login name and the `sub` claim.
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    /// The `groups` claim (ID token, userinfo and access token).
    pub groups: Vec<String>,
}

impl IdpAccount {
    /// An account with a verified email address.
    pub fn new(id: &str, email: &str, name: &str, groups: &[&str]) -> IdpAccount {
        IdpAccount {
            id: id.to_owned(),
            email: email.to_owned(),
            email_verified: true,
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }
}

/// How to set the identity provider up.
#[derive(Debug, Clone)]
pub struct IdpOptions {
    /// The client's only registered `redirect_uri`.
    pub redirect_uri: String,
    /// The client's only registered `post_logout_redirect_uri`.
    pub post_logout_redirect_uri: String,
    /// The resource indicator (API audience URI) access tokens are issued for,
    /// e.g. `http://127.0.0.1:1234`; it is the `aud` of every access token.
    pub resource: String,
    pub accounts: Vec<IdpAccount>,
    /// Where the person's claims go after a code flow.
    pub claims: IdpClaims,
}

/// Where the provider puts a person's claims (email, email_verified, name,
/// groups) after an authorization code flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdpClaims {
    /// In the ID token (access tokens are always for the resource, so
    /// UserInfo cannot take them).
    #[default]
    IdToken,
    /// Only at UserInfo, as with `oidc-provider`'s default
    /// `conformIdTokenClaims` or Okta's thin ID tokens: a code exchanged
    /// without `resource` gives a UserInfo access token and an ID token
    /// with `sub` alone; `resource` at the token endpoint (RFC 8707) gives
    /// a JWT for the resource, which UserInfo refuses.
    UserInfo,
    /// As [`IdpClaims::UserInfo`], but the provider supports the `claims`
    /// request parameter and its UserInfo endpoint answers 503: only a
    /// client that asks for the claims in the ID token gets them.
    ClaimsParameter,
    /// As [`IdpClaims::UserInfo`], but UserInfo describes someone else (its
    /// `sub` is `someone-else`, its other claims the first account's).
    UserInfoOfSomeoneElse,
}

/// The provider's signing key and a key it never published, both P-256
/// private keys in PKCS#8 PEM (for `jsonwebtoken::EncodingKey::from_ec_pem`).
#[derive(Debug, Clone)]
pub struct IdpKeys {
    /// The `kid` of the published signing key.
    pub kid: String,
    /// The key the provider signs ID and access tokens with (ES256).
    pub signing_pem: String,
    /// A `kid` the provider's JWKS does not contain.
    pub stranger_kid: String,
    /// A key the provider's JWKS does not contain, to mint hostile tokens.
    pub stranger_pem: String,
}

/// A running `oidc-provider`, killed when dropped.
#[derive(Debug)]
pub struct TestIdp {
    /// `http://127.0.0.1:<port>`, with no trailing slash.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The access tokens' audience, as passed in [`IdpOptions::resource`].
    pub resource: String,
    pub keys: IdpKeys,
    /// Kept open: the provider exits when its stdin closes.
    child: Child,
    log: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
}

impl TestIdp {
    /// Starts an identity provider on a free loopback port and waits until it
    /// serves. Panics (with its stderr) when it does not come up in 30 s.
    pub async fn start(opts: IdpOptions) -> TestIdp {
        ensure_node_modules().await;

        let dir = tempfile::tempdir().expect("a temporary directory");
        let client_id = "rosgate-test".to_owned();
        let client_secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let keys_path = dir.path().join("keys.json");
        let config = json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [opts.redirect_uri],
            "post_logout_redirect_uris": [opts.post_logout_redirect_uri],
            "resource": opts.resource,
            "accounts": opts.accounts.iter().map(|a| json!({
                "id": a.id,
                "email": a.email,
                "email_verified": a.email_verified,
                "name": a.name,
                "groups": a.groups,
            })).collect::<Vec<_>>(),
            "keys_path": keys_path,
            "claims_mode": match opts.claims {
                IdpClaims::IdToken => "id_token",
                IdpClaims::UserInfo => "userinfo",
                IdpClaims::ClaimsParameter => "claims_parameter",
                IdpClaims::UserInfoOfSomeoneElse => "userinfo_wrong_sub",
            },
        });
        let config_path = dir.path().join("idp.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config).expect("serialize the IdP config"),
        )
        .expect("write the IdP config");

        let mut child = Command::new("node")
            .arg("idp.mjs")
            .arg(&config_path)
            .arg("0")
            .current_dir(idp_dir())
            .env("IDP_EXIT_ON_STDIN_EOF", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node`: {e}; {NODE_HINT}"));

        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr_task = tokio::spawn(collect(stderr, log.clone()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();

        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(issuer) = line.strip_prefix("IDP_READY ") {
                    return Some(issuer.trim().to_owned());
                }
                push(&log, &line);
            }
            None
        })
        .await;

        let issuer = match ready {
            Ok(Some(issuer)) => issuer,
            outcome => {
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
                let _ = tokio::time::timeout(Duration::from_secs(2), stderr_task).await;
                let why = if outcome.is_err() {
                    "did not print IDP_READY within 30 s"
                } else {
                    "exited before printing IDP_READY"
                };
                panic!(
                    "the test identity provider {why}; {NODE_HINT}\n--- its output ---\n{}",
                    read(&log)
                );
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let keys: Value = serde_json::from_slice(
            &std::fs::read(&keys_path).expect("the IdP writes its keys file before IDP_READY"),
        )
        .expect("the IdP keys file is JSON");
        let field = |name: &str| {
            keys[name]
                .as_str()
                .unwrap_or_else(|| panic!("the IdP keys file lacks {name}"))
                .to_owned()
        };
        let keys = IdpKeys {
            kid: field("kid"),
            signing_pem: field("signing_pem"),
            stranger_kid: field("stranger_kid"),
            stranger_pem: field("stranger_pem"),
        };

        TestIdp {
            issuer,
            client_id,
            client_secret,
            resource: opts.resource,
            keys,
            child,
            log,
            dir,
        }
    }

    /// The provider's discovery document
    /// (`<issuer>/.well-known/openid-configuration`).
    pub async fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let response = reqwest::get(&url)
            .await
            .expect("fetch the discovery document");
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        response
            .json()
            .await
            .expect("the discovery document is JSON")
    }

    /// What the provider printed besides `IDP_READY` (its warnings and errors).
    pub fn output(&self) -> String {
        read(&self.log)
    }

    /// The folder holding the provider's config and keys file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the provider now (dropping the value does the same).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `crates/testkit/idp`.
fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp")
}

/// Runs `npm ci` in the idp folder when `node_modules` lacks the pinned
/// `oidc-provider`; once per process, and under a file lock so test binaries
/// running in parallel do not install over each other.
async fn ensure_node_modules() {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        tokio::task::spawn_blocking(install_node_modules)
            .await
            .expect("npm ci did not panic");
    })
    .await;
}

fn install_node_modules() {
    let dir = idp_dir();
    let manifest = dir.join("package.json");
    let lock = std::fs::File::open(&manifest).expect("crates/testkit/idp/package.json");
    lock.lock().expect("lock crates/testkit/idp/package.json");
    if installed(&dir) {
        return;
    }
    let output = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `npm`: {e}; {NODE_HINT}"));
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}); {NODE_HINT}\n{}\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(installed(&dir), "`npm ci` did not install oidc-provider");
}

/// Whether `node_modules` holds the `oidc-provider` version package.json pins.
fn installed(dir: &Path) -> bool {
    let version = |path: PathBuf, pointer: &str| -> Option<String> {
        let text = std::fs::read(path).ok()?;
        let json: Value = serde_json::from_slice(&text).ok()?;
        json.pointer(pointer)?.as_str().map(str::to_owned)
    };
    let wanted = version(dir.join("package.json"), "/dependencies/oidc-provider");
    let have = version(
        dir.join("node_modules/oidc-provider/package.json"),
        "/version",
    );
    wanted.is_some() && wanted == have
}

async fn collect(stream: impl AsyncRead + Unpin, log: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        push(&log, &line);
    }
}

fn push(log: &Mutex<String>, line: &str) {
    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
    log.push_str(line);
    log.push('\n');
}

fn read(log: &Mutex<String>) -> String {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// A cookie-keeping HTTP client that fills in the identity provider's
/// development login, consent and logout forms. Redirects are followed by
/// hand, so the redirect back to the client is seen and not fetched.
#[derive(Debug, Clone)]
pub struct IdpBrowser {
    client: reqwest::Client,
    filled: Arc<Mutex<Vec<String>>>,
}

impl Default for IdpBrowser {
    fn default() -> Self {
        Self::new()
    }
}

/// How many requests a login or logout may take before it is deemed a loop.
const MAX_STEPS: usize = 20;

impl IdpBrowser {
    /// A browser with an empty cookie jar: nobody is logged in yet.
    pub fn new() -> IdpBrowser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the browser's HTTP client");
        IdpBrowser {
            client,
            filled: Arc::default(),
        }
    }

    /// The forms filled in so far, in order: `"login"`, `"consent"` and
    /// `"logout"` (clones of a browser share cookies and this record).
    pub fn forms_filled(&self) -> Vec<String> {
        self.filled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn filled(&self, form: &str) {
        self.filled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(form.to_owned());
    }

    /// Opens `authorize_url`, logs in as `account_id` (any password) when the
    /// provider asks, gives consent when it asks, and returns the URL it
    /// finally redirects to under the request's `redirect_uri` (with `code`,
    /// `state` and `iss`, or with `error` when the provider refused). The
    /// callback is not fetched. `authorize_url` may also be a page that
    /// redirects to the authorization endpoint.
    pub async fn login(&self, authorize_url: &str, account_id: &str) -> String {
        let start = Url::parse(authorize_url).expect("the authorization URL parses");
        let redirect_uri_of = |url: &Url| {
            url.query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
        };
        // Starting at a page that redirects to the provider (a relying
        // party's own login route) works too: the first redirect that names
        // a redirect_uri fixes it.
        let mut redirect_uri = redirect_uri_of(&start);

        let mut request = self.client.get(start.clone());
        let mut url = start;
        for _ in 0..MAX_STEPS {
            let response = request.send().await.expect("reach the identity provider");
            let status = response.status();
            if status.is_redirection() {
                let next = location(&url, &response);
                match &redirect_uri {
                    Some(back) if next.as_str().starts_with(back.as_str()) => {
                        return next.into();
                    }
                    Some(_) => {}
                    None => redirect_uri = redirect_uri_of(&next),
                }
                request = self.client.get(next.clone());
                url = next;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            let form = Form::find(&body).filter(|_| status == StatusCode::OK);
            let Some(form) = form else {
                panic!(
                    "{url} answered {status} with no form:\n{}",
                    page_text(&body)
                );
            };
            let prompt = form.prompt();
            let mut fields = form.hidden;
            match prompt.as_deref() {
                Some("login") => {
                    fields.push(("login".into(), account_id.into()));
                    fields.push(("password".into(), "test-password".into()));
                }
                Some("consent") => {}
                other => panic!("{url}: unexpected form (prompt {other:?}):\n{body}"),
            }
            self.filled(prompt.as_deref().unwrap_or_default());
            let action = url.join(&form.action).expect("the form action resolves");
            request = self.client.post(action.clone()).form(&fields);
            url = action;
        }
        panic!("no redirect to {redirect_uri:?} after {MAX_STEPS} requests");
    }

    /// Opens `end_session_url` (the provider's `end_session_endpoint` with
    /// its query), confirms the logout ("yes, sign me out") and returns where
    /// the provider redirects to: the `post_logout_redirect_uri` (with
    /// `state`) when the request named one, else its own success page.
    pub async fn logout(&self, end_session_url: &str) -> String {
        let mut url = Url::parse(end_session_url).expect("the end-session URL parses");
        let mut request = self.client.get(url.clone());
        let mut confirmed = false;
        for _ in 0..MAX_STEPS {
            let response = request.send().await.expect("reach the identity provider");
            let status = response.status();
            if status.is_redirection() {
                let next = location(&url, &response);
                if confirmed {
                    return next.into();
                }
                request = self.client.get(next.clone());
                url = next;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            let form =
                Form::find(&body).filter(|f| status == StatusCode::OK && f.field("xsrf").is_some());
            let Some(form) = form else {
                panic!(
                    "{url} answered {status} with no logout form:\n{}",
                    page_text(&body)
                );
            };
            let mut fields: Vec<(String, String)> = form
                .hidden
                .into_iter()
                .filter(|(name, _)| name != "logout")
                .collect();
            fields.push(("logout".into(), "yes".into()));
            self.filled("logout");
            let action = url.join(&form.action).expect("the form action resolves");
            request = self.client.post(action.clone()).form(&fields);
            url = action;
            confirmed = true;
        }
        panic!("logout did not redirect after {MAX_STEPS} requests");
    }
}

/// The absolute target of a redirect.
fn location(base: &Url, response: &reqwest::Response) -> Url {
    let value = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{base}: a redirect without Location"));
    base.join(value).expect("the Location resolves")
}

/// The first HTML form of a page: its action and hidden inputs.
#[derive(Debug)]
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
}

impl Form {
    fn find(html: &str) -> Option<Form> {
        let start = html.find("<form")?;
        let rest = &html[start..];
        let tag_end = rest.find('>')?;
        let action = attr(&rest[..tag_end], "action").unwrap_or_default();
        let body = &rest[tag_end..rest.find("</form>").unwrap_or(rest.len())];
        let hidden = body
            .split("<input")
            .skip(1)
            .filter_map(|chunk| {
                let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
                if attr(tag, "type").as_deref() != Some("hidden") {
                    return None;
                }
                Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
            })
            .collect();
        Some(Form { action, hidden })
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.hidden
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn prompt(&self) -> Option<String> {
        self.field("prompt").map(str::to_owned)
    }
}

/// The value of a double- or single-quoted attribute in a tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = tag[from..].find(name) {
        let at = from + at;
        from = at + name.len();
        let before_ok = tag[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let after = &tag[at + name.len()..];
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = &after[1..];
        let quote = value.chars().next()?;
        if quote != '"' && quote != '\'' {
            let end = value
                .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
                .unwrap_or(value.len());
            return Some(unescape(&value[..end]));
        }
        let value = &value[1..];
        let end = value.find(quote)?;
        return Some(unescape(&value[..end]));
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An error page's text, tags dropped, for panic messages.
fn page_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    unescape(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::Digest;

    const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
    const LOGGED_OUT_URI: &str = "http://127.0.0.1:9/logged-out";
    const RESOURCE: &str = "http://127.0.0.1:1234";
    const VERIFIER: &str = "a-fixed-pkce-code-verifier-that-is-long-enough-0123456789";

    fn payload(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).expect("a JWT has a payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url"))
            .expect("the payload is JSON")
    }

    fn header(jwt: &str) -> Value {
        let part = jwt.split('.').next().expect("a JWT has a header");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url"))
            .expect("the header is JSON")
    }

    fn query(url: &str, name: &str) -> Option<String> {
        Url::parse(url)
            .expect("a URL")
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    async fn start() -> TestIdp {
        TestIdp::start(IdpOptions {
            redirect_uri: REDIRECT_URI.into(),
            post_logout_redirect_uri: LOGGED_OUT_URI.into(),
            resource: RESOURCE.into(),
            accounts: vec![IdpAccount::new(
                "alice",
                "alice@example.test",
                "Alice Example",
                &["netops", "admins"],
            )],
            claims: IdpClaims::IdToken,
        })
        .await
    }

    fn authorize_url(idp: &TestIdp, discovery: &Value, prompt: Option<&str>) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
        let endpoint = discovery["authorization_endpoint"]
            .as_str()
            .expect("authorize");
        let mut params = vec![
            ("client_id", idp.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            (
                "scope",
                "openid email profile offline_access rosgate:read rosgate:write",
            ),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(prompt) = prompt {
            params.push(("prompt", prompt));
        }
        Url::parse_with_params(endpoint, &params)
            .expect("authorization URL")
            .into()
    }

    async fn token(idp: &TestIdp, discovery: &Value, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let endpoint = discovery["token_endpoint"]
            .as_str()
            .expect("token endpoint");
        let response = reqwest::Client::new()
            .post(endpoint)
            .basic_auth(&idp.client_id, Some(&idp.client_secret))
            .form(form)
            .send()
            .await
            .expect("token request");
        let status = response.status();
        (
            status,
            response.json().await.expect("a JSON token response"),
        )
    }

    #[tokio::test]
    async fn idp_code_flow_refresh_and_revocation() {
        let idp = start().await;
        let discovery = idp.discovery().await;
        assert_eq!(discovery["issuer"], idp.issuer.as_str());

        let browser = IdpBrowser::new();
        let callback = browser
            .login(&authorize_url(&idp, &discovery, Some("consent")), "alice")
            .await;
        assert!(callback.starts_with(REDIRECT_URI), "{callback}");
        assert_eq!(browser.forms_filled(), ["login", "consent"]);
        assert_eq!(query(&callback, "state").as_deref(), Some("state-123"));
        assert_eq!(
            query(&callback, "iss").as_deref(),
            Some(idp.issuer.as_str())
        );
        let code = query(&callback, "code").expect("a code in the callback");

        let (status, tokens) = token(
            &idp,
            &discovery,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");

        let id_token = tokens["id_token"].as_str().expect("an id_token");
        let claims = payload(id_token);
        assert_eq!(header(id_token)["alg"], "ES256");
        assert_eq!(header(id_token)["kid"], idp.keys.kid.as_str());
        assert_eq!(claims["iss"], idp.issuer.as_str());
        assert_eq!(claims["aud"], idp.client_id.as_str());
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["nonce"], "nonce-456");
        assert_eq!(claims["email"], "alice@example.test");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], "Alice Example");
        assert_eq!(claims["groups"], json!(["netops", "admins"]));

        let access_token = tokens["access_token"].as_str().expect("an access_token");
        let claims = payload(access_token);
        assert_eq!(header(access_token)["typ"], "at+jwt");
        assert_eq!(claims["aud"], RESOURCE);
        assert_eq!(claims["iss"], idp.issuer.as_str());
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["email"], "alice@example.test");
        assert_eq!(claims["groups"], json!(["netops", "admins"]));
        assert_eq!(claims["scope"], "rosgate:read rosgate:write");
        assert_eq!(claims["client_id"], idp.client_id.as_str());

        // The published key verifies the provider's tokens and the keys file's
        // signing key; the stranger key is not published.
        let jwks: Value = reqwest::get(discovery["jwks_uri"].as_str().expect("jwks_uri"))
            .await
            .expect("fetch the JWKS")
            .json()
            .await
            .expect("the JWKS is JSON");
        let keys = jwks["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], idp.keys.kid.as_str());
        assert!(keys[0].get("d").is_none(), "the JWKS leaks a private key");
        let published = jsonwebtoken::DecodingKey::from_ec_components(
            keys[0]["x"].as_str().expect("x"),
            keys[0]["y"].as_str().expect("y"),
        )
        .expect("an EC public key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[RESOURCE]);
        validation.set_issuer(&[idp.issuer.as_str()]);
        jsonwebtoken::decode::<Value>(access_token, &published, &validation)
            .expect("the access token verifies with the published key");
        let mint = |pem: &str, kid: &str| {
            let mut head = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            head.kid = Some(kid.to_owned());
            let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).expect("PKCS#8 PEM");
            jsonwebtoken::encode(&head, &claims, &key).expect("mint a token")
        };
        let ours = mint(&idp.keys.signing_pem, &idp.keys.kid);
        jsonwebtoken::decode::<Value>(&ours, &published, &validation)
            .expect("the keys file holds the published signing key");
        let hostile = mint(&idp.keys.stranger_pem, &idp.keys.stranger_kid);
        assert!(jsonwebtoken::decode::<Value>(&hostile, &published, &validation).is_err());
        assert_ne!(idp.keys.stranger_kid, idp.keys.kid);

        // Refresh works.
        let refresh_token = tokens["refresh_token"].as_str().expect("a refresh_token");
        let (status, refreshed) = token(
            &idp,
            &discovery,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{refreshed}");
        let again = refreshed["access_token"]
            .as_str()
            .expect("a new access_token");
        assert_eq!(payload(again)["aud"], RESOURCE);
        assert_eq!(payload(again)["email"], "alice@example.test");
        let refresh_token = refreshed["refresh_token"]
            .as_str()
            .unwrap_or(refresh_token)
            .to_owned();

        // Revocation ends it.
        let response = reqwest::Client::new()
            .post(
                discovery["revocation_endpoint"]
                    .as_str()
                    .expect("revocation"),
            )
            .basic_auth(&idp.client_id, Some(&idp.client_secret))
            .form(&[
                ("token", refresh_token.as_str()),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await
            .expect("revocation request");
        assert_eq!(response.status(), StatusCode::OK);
        let (status, refused) = token(
            &idp,
            &discovery,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn idp_logout_then_login_asks_again() {
        let idp = start().await;
        let discovery = idp.discovery().await;
        let browser = IdpBrowser::new();

        // No `prompt`: consent is still asked the first time (there is no
        // grant yet).
        let callback = browser
            .login(&authorize_url(&idp, &discovery, None), "alice")
            .await;
        assert_eq!(browser.forms_filled(), ["login", "consent"]);
        let code = query(&callback, "code").expect("a code");
        let (status, tokens) = token(
            &idp,
            &discovery,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let id_token = tokens["id_token"].as_str().expect("an id_token");
        let refresh_token = tokens["refresh_token"].as_str().expect("a refresh_token");

        // Logged in: a second authorization needs no form at all.
        let callback = browser
            .login(&authorize_url(&idp, &discovery, None), "alice")
            .await;
        assert!(query(&callback, "code").is_some(), "{callback}");
        assert_eq!(browser.forms_filled(), ["login", "consent"]);

        let end_session = Url::parse_with_params(
            discovery["end_session_endpoint"]
                .as_str()
                .expect("end_session"),
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", LOGGED_OUT_URI),
                ("state", "bye"),
            ],
        )
        .expect("end-session URL");
        let landed = browser.logout(end_session.as_str()).await;
        assert!(landed.starts_with(LOGGED_OUT_URI), "{landed}");
        assert_eq!(query(&landed, "state").as_deref(), Some("bye"));
        assert_eq!(browser.forms_filled(), ["login", "consent", "logout"]);

        // Logout revoked the grant, and the refresh token with it.
        let (status, refused) = token(
            &idp,
            &discovery,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(refused["error"], "invalid_grant");

        // And the browser must log in again.
        let callback = browser
            .login(&authorize_url(&idp, &discovery, Some("consent")), "alice")
            .await;
        assert!(query(&callback, "code").is_some(), "{callback}");
        assert_eq!(
            browser.forms_filled(),
            ["login", "consent", "logout", "login", "consent"]
        );
    }

    #[test]
    fn idp_form_scanner_reads_hidden_inputs() {
        let html = r#"<p>x</p><form autocomplete="off" action="http://h/interaction/a&amp;b" method="post">
            <input type="hidden" name="prompt" value="login"/>
            <input required type="text" name="login" placeholder="Enter any login">
            </form><input type="hidden" name="outside" value="no">"#;
        let form = Form::find(html).expect("a form");
        assert_eq!(form.action, "http://h/interaction/a&b");
        assert_eq!(form.hidden, vec![("prompt".into(), "login".into())]);
        assert_eq!(form.prompt().as_deref(), Some("login"));
        let html = r#"<form id="op.logoutForm" method="post" action="/session/end/confirm"><input type="hidden" name="xsrf" value="abc"/></form>"#;
        let form = Form::find(html).expect("a form");
        assert_eq!(form.action, "/session/end/confirm");
        assert_eq!(form.field("xsrf"), Some("abc"));
        assert_eq!(Form::find("<p>none</p>").map(|f| f.action), None);
    }
}
