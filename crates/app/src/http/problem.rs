//! RFC 9457 problem details: every error the API returns, whatever produced
//! it, is `application/problem+json` with a stable `code`.

use crate::http::codes::Code;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use rbac::{DenyReason, RbacError};
use tenancy::TenancyError;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the problem type.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong and, where possible, what to do about it.
    pub detail: String,
    /// A stable, machine-readable error code.
    pub code: String,
    /// The input field at fault, for validation errors.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

/// The error half of every operation's response.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// The request is malformed.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid credentials were presented.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>, #[oai(header = "WWW-Authenticate")] String),
    /// Authenticated, but not allowed (or, for a bearer JWT, missing a scope:
    /// then `WWW-Authenticate` says `error="insufficient_scope"`).
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(
        Json<Problem>,
        #[oai(header = "WWW-Authenticate")] Option<String>,
    ),
    /// The resource does not exist.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request conflicts with the current state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is not `application/json`.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// A field is invalid.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// The caller is over its request budget: wait `Retry-After` seconds.
    /// `X-RateLimit-*` and `RateLimit` say which budget and when it resets.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] String),
    /// A device answered with an error, or did not confirm a change.
    #[oai(status = 502, content_type = "application/problem+json")]
    BadGateway(Json<Problem>),
    /// The service cannot handle the request right now; nothing was changed.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
    /// A device did not answer in time.
    #[oai(status = 504, content_type = "application/problem+json")]
    GatewayTimeout(Json<Problem>),
}

impl Problem {
    /// The problem document for `code`, with the status the table gives it.
    pub fn new(code: Code, detail: impl Into<String>, field: Option<&str>) -> Problem {
        Problem::with_status(code.status(), code, detail, field)
    }

    /// The problem document for `code` answered with `status`: only where
    /// the table's row says the code keeps another status there (see
    /// [`Code::InvalidToken`], [`Code::InvalidRequest`], [`Code::Internal`]).
    /// Every problem document rosgate writes is built here.
    pub fn with_status(
        status: StatusCode,
        code: Code,
        detail: impl Into<String>,
        field: Option<&str>,
    ) -> Problem {
        Problem {
            kind: format!(
                "https://rosgate.dev/problems/{}",
                code.as_str().replace('_', "-")
            ),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.as_str().to_owned(),
            field: field.map(str::to_owned),
        }
    }

    /// The reply outside the typed operations: this document with its
    /// status and the `application/problem+json` content type.
    pub fn into_response(self) -> poem::Response {
        use poem::IntoResponse;
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut out = poem::web::Json(self).with_status(status).into_response();
        out.headers_mut().insert(
            poem::http::header::CONTENT_TYPE,
            poem::http::HeaderValue::from_static("application/problem+json"),
        );
        out
    }
}

/// Turns a request that did not parse (bad JSON, wrong types, bad path or
/// query parameters) into a 400 problem.
pub fn bad_request(err: poem::Error) -> ApiError {
    if let Some(big) = crate::http::body_limit::too_large(&err) {
        return ApiError::new(Code::PayloadTooLarge, big.to_string());
    }
    if let Some(f) = err.downcast_ref::<AuthProblem>() {
        return match f.code.status() {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(
                Json(Problem::new(f.code, f.detail.clone(), None)),
                f.challenge.clone().unwrap_or_else(|| "Bearer".into()),
            ),
            StatusCode::FORBIDDEN => ApiError::Forbidden(
                Json(Problem::new(f.code, f.detail.clone(), None)),
                f.challenge.clone(),
            ),
            _ => ApiError::with_status(StatusCode::SERVICE_UNAVAILABLE, f.code, f.detail.clone()),
        };
    }
    match err.status() {
        StatusCode::UNAUTHORIZED if err.is::<poem_openapi::error::AuthorizationError>() => {
            ApiError::unauthorized("authentication required: send `Authorization: Bearer <token>`")
        }
        StatusCode::UNAUTHORIZED => ApiError::unauthorized(err.to_string()),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(err.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(Code::UnsupportedMediaType, err.to_string())
        }
        _ => ApiError::new(Code::InvalidRequest, err.to_string()),
    }
}

impl ApiError {
    /// The problem for `code`, answered with the status the table gives it.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self::from_problem(Problem::new(code, detail, None))
    }

    /// The problem for `code` answered with `status`, where the table's
    /// row says the code keeps another status (see [`Problem::with_status`]).
    pub fn with_status(status: StatusCode, code: Code, detail: impl Into<String>) -> Self {
        Self::from_problem(Problem::with_status(status, code, detail, None))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(Code::Unauthenticated, detail)
    }

    pub fn denied(reason: DenyReason) -> Self {
        Self::new(Code::of(reason.code()), reason.message())
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(Code::Conflict, detail)
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::invalid_code(Code::InvalidField, field, detail)
    }

    /// `code` for the input `field`, its detail prefixed with the field.
    pub fn invalid_code(code: Code, field: &str, detail: impl Into<String>) -> Self {
        let detail = format!("{field}: {}", detail.into());
        Self::from_problem(Problem::new(code, detail, Some(field)))
    }

    /// Over the request budget; retry after `secs` seconds.
    pub fn rate_limited(secs: u64) -> Self {
        ApiError::TooManyRequests(
            Json(Problem::new(
                Code::RateLimited,
                format!("request budget used up; retry in {secs} s"),
                None,
            )),
            secs.to_string(),
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, detail)
    }

    /// The reply carrying `problem`: the variant is chosen by its status
    /// (statuses the API never answers with become 400).
    pub fn from_problem(problem: Problem) -> Self {
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
        let p = Json(problem);
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(p),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(p, "Bearer".into()),
            StatusCode::FORBIDDEN => ApiError::Forbidden(p, None),
            StatusCode::NOT_FOUND => ApiError::NotFound(p),
            StatusCode::CONFLICT => ApiError::Conflict(p),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(p),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(p),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(p),
            StatusCode::BAD_GATEWAY => ApiError::BadGateway(p),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(p),
            StatusCode::GATEWAY_TIMEOUT => ApiError::GatewayTimeout(p),
            _ => {
                let Json(mut p) = p;
                p.title = StatusCode::BAD_REQUEST
                    .canonical_reason()
                    .unwrap_or("Error")
                    .to_owned();
                p.status = StatusCode::BAD_REQUEST.as_u16();
                ApiError::BadRequest(Json(p))
            }
        }
    }

    /// The problem document inside.
    pub fn problem(&self) -> &Problem {
        match self {
            ApiError::BadRequest(p)
            | ApiError::Unauthorized(p, _)
            | ApiError::Forbidden(p, _)
            | ApiError::NotFound(p)
            | ApiError::Conflict(p)
            | ApiError::PayloadTooLarge(p)
            | ApiError::UnsupportedMediaType(p)
            | ApiError::Unprocessable(p)
            | ApiError::TooManyRequests(p, _)
            | ApiError::BadGateway(p)
            | ApiError::Unavailable(p)
            | ApiError::GatewayTimeout(p) => &p.0,
        }
    }
}

impl From<kernel::StoreError> for ApiError {
    fn from(e: kernel::StoreError) -> Self {
        match e {
            kernel::StoreError::Conflict(m) => ApiError::conflict(m),
            kernel::StoreError::NotFound => ApiError::not_found("resource"),
            kernel::StoreError::Unavailable(_) => {
                ApiError::unavailable("the database is unavailable; nothing was changed, try again")
            }
        }
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> Self {
        match e {
            TenancyError::Invalid(f) => ApiError::invalid(f.field, f.reason),
            TenancyError::Target(t) => ApiError::invalid_code(Code::of(t.code), t.field, t.reason),
            TenancyError::NotFound(what) => ApiError::not_found(what),
            TenancyError::Conflict(m) => ApiError::conflict(m),
            // The one place `invalid_token` is a 400: a token in a request body.
            TenancyError::BadToken(m) => {
                ApiError::with_status(StatusCode::BAD_REQUEST, Code::of(e.code()), m)
            }
            TenancyError::NotProvisioned(_)
            | TenancyError::InvitationLapsed(_)
            | TenancyError::LinkRequired(_)
            | TenancyError::IdentityTaken
            | TenancyError::IdentityAlreadyLinked => {
                ApiError::new(Code::of(e.code()), e.to_string())
            }
            TenancyError::Store(s) => s.into(),
        }
    }
}

impl From<rbac::DelegationError> for ApiError {
    fn from(e: rbac::DelegationError) -> Self {
        // The table answers `is_conflict()` refusals with 409, the rest with 403.
        ApiError::new(Code::of(e.code()), e.to_string())
    }
}

impl From<RbacError> for ApiError {
    fn from(e: RbacError) -> Self {
        match e {
            RbacError::Invalid(f) => ApiError::invalid(f.field, f.reason),
            RbacError::NotFound(what) => ApiError::not_found(what),
            RbacError::Delegation(d) => d.into(),
            RbacError::Conflict(m) => ApiError::conflict(m),
            RbacError::Store(s) => s.into(),
        }
    }
}

/// Converts any error that escaped the typed handlers (unknown route, wrong
/// method, body too large, a panic caught by the server) into a problem
/// document; problem documents pass through untouched.
pub async fn catch_all(err: poem::Error) -> poem::Response {
    let err = match crate::http::body_limit::too_large(&err) {
        Some(big) => poem::Error::from_string(big.to_string(), StatusCode::PAYLOAD_TOO_LARGE),
        None => err,
    };
    let status = err.status();
    let message = err.to_string();
    let resp = err.into_response();
    let is_problem = resp
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return resp;
    }
    let code = match status {
        StatusCode::NOT_FOUND => Code::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        s if s.is_server_error() => Code::Internal,
        _ => Code::InvalidRequest,
    };
    let detail = if status.is_server_error() {
        "internal error; it has been logged".to_owned()
    } else if status == StatusCode::UNAUTHORIZED && message == "authorization error" {
        "authentication required: send `Authorization: Bearer <token>`".to_owned()
    } else {
        message
    };
    let mut out = Problem::with_status(status, code, detail, None).into_response();
    if status == StatusCode::UNAUTHORIZED {
        out.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer"),
        );
    }
    out
}

/// The reply to a panic caught by the server: a 500 problem that says nothing of internals.
pub fn internal_error_response() -> poem::Response {
    Problem::new(Code::Internal, "internal error; it has been logged", None).into_response()
}

/// A request whose credentials were refused, as the problem to reply
/// with and its `WWW-Authenticate` challenge.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct AuthProblem {
    /// The code, answered with the status the table gives it.
    pub code: Code,
    pub detail: String,
    /// The `WWW-Authenticate` challenge, if the status calls for one.
    pub challenge: Option<String>,
}

impl poem::error::ResponseError for AuthProblem {
    fn status(&self) -> StatusCode {
        self.code.status()
    }

    fn as_response(&self) -> poem::Response {
        let mut resp = Problem::new(self.code, self.detail.clone(), None).into_response();
        if let Some(c) = &self.challenge
            && let Ok(v) = poem::http::HeaderValue::from_str(c)
        {
            resp.headers_mut()
                .insert(poem::http::header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}
