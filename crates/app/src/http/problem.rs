//! RFC 9457 problem details: every error the API returns, whatever produced
//! it, is `application/problem+json` with a stable `code`.

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
    /// A problem document for `status` with a stable `code`.
    pub fn new(status: StatusCode, code: &str, detail: String, field: Option<&str>) -> Problem {
        problem(status, code, detail, field).0
    }
}

fn problem(
    status: StatusCode,
    code: &str,
    detail: impl Into<String>,
    field: Option<&str>,
) -> Json<Problem> {
    Json(Problem {
        kind: format!("https://rosgate.dev/problems/{}", code.replace('_', "-")),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        code: code.to_owned(),
        field: field.map(str::to_owned),
    })
}

/// Turns a request that did not parse (bad JSON, wrong types, bad path or
/// query parameters) into a 400 problem.
pub fn bad_request(err: poem::Error) -> ApiError {
    if let Some(big) = crate::http::body_limit::too_large(&err) {
        return ApiError::PayloadTooLarge(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            big.to_string(),
            None,
        ));
    }
    if let Some(f) = err.downcast_ref::<AuthProblem>() {
        let p = problem(f.status, f.code, f.detail.clone(), None);
        return match f.status {
            StatusCode::UNAUTHORIZED => {
                ApiError::Unauthorized(p, f.challenge.clone().unwrap_or_else(|| "Bearer".into()))
            }
            StatusCode::FORBIDDEN => ApiError::Forbidden(p, f.challenge.clone()),
            _ => ApiError::Unavailable(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                f.code,
                f.detail.clone(),
                None,
            )),
        };
    }
    match err.status() {
        StatusCode::UNAUTHORIZED if err.is::<poem_openapi::error::AuthorizationError>() => {
            ApiError::unauthorized("authentication required: send `Authorization: Bearer <token>`")
        }
        StatusCode::UNAUTHORIZED => ApiError::unauthorized(err.to_string()),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(err.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            err.to_string(),
            None,
        )),
        _ => ApiError::bad_request("invalid_request", err.to_string()),
    }
}

impl ApiError {
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest(problem(StatusCode::BAD_REQUEST, code, detail, None))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::Unauthorized(
            problem(StatusCode::UNAUTHORIZED, "unauthenticated", detail, None),
            "Bearer".into(),
        )
    }

    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        ApiError::Forbidden(problem(StatusCode::FORBIDDEN, code, detail, None), None)
    }

    pub fn denied(reason: DenyReason) -> Self {
        Self::forbidden(reason.code(), reason.message())
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
            None,
        ))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict(problem(StatusCode::CONFLICT, "conflict", detail, None))
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        let detail = format!("{field}: {}", detail.into());
        ApiError::Unprocessable(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            detail,
            Some(field),
        ))
    }

    /// 422 for `field` with a code of its own.
    pub fn invalid_code(code: &str, field: &str, detail: impl Into<String>) -> Self {
        let detail = format!("{field}: {}", detail.into());
        ApiError::Unprocessable(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            detail,
            Some(field),
        ))
    }

    pub fn not_found_code(code: &str, detail: impl Into<String>) -> Self {
        ApiError::NotFound(problem(StatusCode::NOT_FOUND, code, detail, None))
    }

    pub fn conflict_code(code: &str, detail: impl Into<String>) -> Self {
        ApiError::Conflict(problem(StatusCode::CONFLICT, code, detail, None))
    }

    pub fn bad_gateway(code: &str, detail: impl Into<String>) -> Self {
        ApiError::BadGateway(problem(StatusCode::BAD_GATEWAY, code, detail, None))
    }

    pub fn gateway_timeout(detail: impl Into<String>) -> Self {
        ApiError::GatewayTimeout(problem(
            StatusCode::GATEWAY_TIMEOUT,
            "device_timeout",
            detail,
            None,
        ))
    }

    /// Over the request budget; retry after `secs` seconds.
    pub fn rate_limited(secs: u64) -> Self {
        ApiError::TooManyRequests(
            problem(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("request budget used up; retry in {secs} s"),
                None,
            ),
            secs.to_string(),
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::Unavailable(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            detail,
            None,
        ))
    }

    /// The problem for `status` with `code`: the variant is chosen by the
    /// status (statuses the API never answers with become 400).
    pub fn with_status(
        status: StatusCode,
        code: &str,
        detail: String,
        field: Option<&str>,
    ) -> Self {
        let p = problem(status, code, detail, field);
        match status {
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
            _ => ApiError::BadRequest(problem(StatusCode::BAD_REQUEST, code, p.0.detail, field)),
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
            TenancyError::Target(t) => ApiError::invalid_code(t.code, t.field, t.reason),
            TenancyError::NotFound(what) => ApiError::not_found(what),
            TenancyError::Conflict(m) => ApiError::conflict(m),
            TenancyError::BadToken(m) => ApiError::bad_request("invalid_token", m),
            TenancyError::NotProvisioned(_) => {
                ApiError::forbidden("not_provisioned", e.to_string())
            }
            TenancyError::InvitationLapsed(_) => {
                ApiError::forbidden("invitation_lapsed", e.to_string())
            }
            TenancyError::LinkRequired(_) => {
                ApiError::forbidden("identity_link_required", e.to_string())
            }
            TenancyError::Store(s) => s.into(),
        }
    }
}

impl From<rbac::DelegationError> for ApiError {
    fn from(e: rbac::DelegationError) -> Self {
        if e.is_conflict() {
            ApiError::conflict_code(e.code(), e.to_string())
        } else {
            ApiError::forbidden(e.code(), e.to_string())
        }
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
    use poem::IntoResponse;
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
        StatusCode::NOT_FOUND => "route_not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let detail = if status.is_server_error() {
        "internal error; it has been logged".to_owned()
    } else if status == StatusCode::UNAUTHORIZED && message == "authorization error" {
        "authentication required: send `Authorization: Bearer <token>`".to_owned()
    } else {
        message
    };
    let body = problem(status, code, detail, None).0;
    let mut out = poem::web::Json(body).with_status(status).into_response();
    out.headers_mut().insert(
        poem::http::header::CONTENT_TYPE,
        poem::http::HeaderValue::from_static("application/problem+json"),
    );
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
    use poem::IntoResponse;
    let body = problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; it has been logged",
        None,
    )
    .0;
    let mut out = poem::web::Json(body)
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response();
    out.headers_mut().insert(
        poem::http::header::CONTENT_TYPE,
        poem::http::HeaderValue::from_static("application/problem+json"),
    );
    out
}

/// A request whose credentials were refused, as the problem to reply
/// with and its `WWW-Authenticate` challenge.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct AuthProblem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// The `WWW-Authenticate` challenge, if the status calls for one.
    pub challenge: Option<String>,
}

impl poem::error::ResponseError for AuthProblem {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> poem::Response {
        use poem::IntoResponse;
        let body = Problem::new(self.status, self.code, self.detail.clone(), None);
        let mut resp = poem::web::Json(body)
            .with_status(self.status)
            .into_response();
        resp.headers_mut().insert(
            poem::http::header::CONTENT_TYPE,
            poem::http::HeaderValue::from_static("application/problem+json"),
        );
        if let Some(c) = &self.challenge
            && let Ok(v) = poem::http::HeaderValue::from_str(c)
        {
            resp.headers_mut()
                .insert(poem::http::header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}
