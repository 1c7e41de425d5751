//! RFC 9457 problem details: every error the API answers, and the body extractor that turns a
//! malformed request into one.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pathops_core::Error;
use pathops_core::validate::Problem;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of every problem `type` URI: `urn:pathops:problem:<code>`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:pathops:problem:";

/// An RFC 9457 problem document, as every error answer of the API carries it
/// (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// `urn:pathops:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type (the same for every occurrence of a code).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time. Never echoes a rejected value.
    pub detail: String,
    /// The request path the problem occurred at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// A stable machine-readable code (`not_found`, `stale_version`, …).
    pub code: String,
    /// For `422`: one entry per rejected field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One rejected field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path into the body (`tags[2]`, `configuration`) or the query or
    /// header parameter's name.
    pub field: String,
    /// A stable code for what was wrong (`invalid`, `unknown_field`, `missing`, …).
    pub code: String,
    /// What was wrong, without the rejected value.
    pub detail: String,
}

/// An error answer: renders as a [`ProblemDetails`] document.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<Duration>,
    instance: Option<String>,
}

impl ApiError {
    /// A problem with `status`, a stable `code` and a `detail` that names no secret.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            instance: None,
        }
    }

    /// Sets `instance` (by default the request path): a route template instead of a path
    /// whose segment was rejected, so the rejected value is not sent back.
    pub(crate) fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds per-field errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The status this problem answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// `400 invalid_parameter` naming one query, path or header parameter.
    pub(crate) fn parameter(field: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("invalid parameter `{field}`: {detail}"),
        )
        .with_errors(vec![FieldError {
            field: field.to_owned(),
            code: "invalid".to_owned(),
            detail,
        }])
    }

    /// The problem document.
    pub fn details(&self) -> ProblemDetails {
        ProblemDetails {
            type_uri: format!("{PROBLEM_TYPE_PREFIX}{}", self.code),
            title: title(self.status).to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: self.instance.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
        }
    }

    /// The problem an error of the catalog answers with. Errors whose text is for operators
    /// (a backend's, a corrupt record's) are logged and answered with a generic detail.
    pub fn from_core(error: &Error) -> Self {
        use StatusCode as S;
        match error {
            Error::NotFound { .. } => Self::new(S::NOT_FOUND, "not_found", error.to_string()),
            Error::AlreadyExists { .. } => {
                Self::new(S::CONFLICT, "already_exists", error.to_string())
            }
            Error::Conflict { .. } => Self::new(S::CONFLICT, "conflict", error.to_string()),
            Error::InvalidTransition(_) => {
                Self::new(S::CONFLICT, "invalid_transition", error.to_string())
            }
            Error::Validation(v) => {
                let detail = v.problem.to_string();
                Self::new(
                    S::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    error.to_string(),
                )
                .with_errors(vec![FieldError {
                    field: v.field.to_owned(),
                    code: problem_code(&v.problem).to_owned(),
                    detail,
                }])
            }
            Error::InvalidCursor { .. } => {
                Self::new(S::BAD_REQUEST, "invalid_cursor", error.to_string())
            }
            Error::Unauthenticated { .. } => {
                Self::new(S::UNAUTHORIZED, "unauthenticated", error.to_string())
            }
            Error::SelfApproval { .. } => {
                Self::new(S::FORBIDDEN, "self_approval", error.to_string())
            }
            Error::PermissionDenied { .. } => {
                Self::new(S::FORBIDDEN, "missing_scope", error.to_string())
            }
            Error::RateLimited { retry_after } => {
                let e = Self::new(S::TOO_MANY_REQUESTS, "rate_limited", error.to_string());
                match retry_after {
                    Some(after) => e.with_retry_after(*after),
                    None => e,
                }
            }
            Error::Unsupported { .. } => {
                Self::new(S::NOT_IMPLEMENTED, "unsupported", error.to_string())
            }
            Error::Timeout { .. } => Self::new(S::GATEWAY_TIMEOUT, "timeout", error.to_string()),
            Error::Backend { .. } => {
                tracing::error!(error = %pathops_core::error::chain(error), "api: backend failed");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "backend_unavailable",
                    "the catalog's backend failed; retry later",
                )
                .with_retry_after(Duration::from_secs(1))
            }
            other => {
                tracing::error!(error = %pathops_core::error::chain(other), "api: internal error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the request failed; the server's log has the cause",
                )
            }
        }
    }

    /// A problem for an error status produced outside a handler (the router's 404 and 405,
    /// the body limit's 413, the timeout, …).
    pub(crate) fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "the route does not allow this method; see the Allow header",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "the request body is too large"),
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
                ("timeout", "the request took longer than the server allows")
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                ("overloaded", "too many requests are in flight; retry later")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "the request body must be application/json",
            ),
            StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
            s if s.is_server_error() => ("internal", "the request failed"),
            _ => ("error", "the request failed"),
        };
        Self::new(status, code, detail)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::from_core(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let details = self.details();
        let body = serde_json::to_vec(&details).expect("problem details serialize");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pathops\""),
            );
        }
        // The outer layer fills `instance` in from the request path.
        response.extensions_mut().insert(details);
        response
    }
}

/// The short, stable title of a status (RFC 9457 `title`).
fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// A stable code for a validation problem.
fn problem_code(problem: &Problem) -> &'static str {
    match problem {
        Problem::Empty => "empty",
        Problem::TooLong { .. } | Problem::TooLarge { .. } | Problem::TooMany { .. } => "too_long",
        Problem::TooShort { .. } => "too_short",
        Problem::UnknownValue => "unknown_value",
        Problem::AuthRefDenied(_) => "auth_ref_denied",
        Problem::NoChanges => "no_changes",
        Problem::OutOfRange => "out_of_range",
        Problem::ProviderTypeMismatch => "provider_type_mismatch",
        Problem::AtKey { problem, .. } => problem_code(problem),
        _ => "invalid",
    }
}

/// A JSON request body of type `T`, read under the router's body cap.
///
/// | request | answer |
/// |---|---|
/// | `Content-Type` not `application/json` (or `*+json`) | `415 unsupported_media_type` |
/// | body over the cap | `413 body_too_large` |
/// | not JSON | `400 malformed_json` (line and column, never the text) |
/// | JSON of the wrong shape | `422 invalid_body`, one `errors[]` entry naming the field |
///
/// `Option<Json<T>>`-like: [`OptionalJson`] accepts an empty body too.
#[derive(Debug)]
pub(crate) struct Json<T>(pub(crate) T);

/// Like [`Json`], but an empty body (with or without a content type) is `None`.
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(pub(crate) Option<T>);

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_body(req: Request) -> Result<(Bytes, bool), ApiError> {
    let json = is_json(req.headers().get(header::CONTENT_TYPE));
    let bytes = Bytes::from_request(req, &()).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from_status(status)
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            )
        }
    })?;
    Ok((bytes, json))
}

fn unsupported_media_type() -> ApiError {
    ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (bytes, json) = read_body(req).await?;
        if !json {
            return Err(unsupported_media_type());
        }
        parse(&bytes).map(Json)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (bytes, json) = read_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        match syntax(&bytes)? {
            serde_json::Value::Null => Ok(OptionalJson(None)),
            value => shape(value).map(|v| OptionalJson(Some(v))),
        }
    }
}

/// Parses `bytes` as JSON, then as `T`, into problems that never quote the input.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    shape(syntax(bytes)?)
}

/// The JSON value of a body, or `400 malformed_json` with where the syntax broke.
fn syntax(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the request body is not JSON (syntax error at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// A body value as `T`. Every body of this API is an object: serde would also read a struct
/// from an array of its fields, which the schema does not allow.
fn shape<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "invalid request body: must be a JSON object",
        )
        .with_errors(vec![FieldError {
            field: String::new(),
            code: "invalid_type".to_owned(),
            detail: "must be a JSON object".to_owned(),
        }]));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let (code, detail) = describe_serde_error(&e.inner().to_string());
        let field = if path == "." { String::new() } else { path };
        let message = if field.is_empty() {
            format!("invalid request body: {detail}")
        } else {
            format!("invalid request body at `{field}`: {detail}")
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message).with_errors(vec![
            FieldError {
                field,
                code: code.to_owned(),
                detail,
            },
        ])
    })
}

/// A serde message without the rejected value: serde quotes it in "invalid type: string
/// \"…\", expected …" and "invalid value: …", and the value may be a pasted secret. Field
/// names (of unknown and missing fields) are kept: they name the problem.
pub(crate) fn describe_serde_error(message: &str) -> (&'static str, String) {
    fn expected(message: &str) -> String {
        message
            .split_once(", expected ")
            .map(|(_, e)| format!(", expected {e}"))
            .unwrap_or_default()
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = rest.split(", expected").next().unwrap_or(rest);
        return ("unknown_field", format!("unknown field {name}"));
    }
    if message.starts_with("missing field ") {
        return ("missing", message.to_owned());
    }
    if message.starts_with("invalid type: ") {
        return ("invalid_type", format!("invalid type{}", expected(message)));
    }
    if message.starts_with("invalid length ") {
        return (
            "invalid_length",
            format!("invalid length{}", expected(message)),
        );
    }
    if message.starts_with("unknown variant ") {
        return (
            "unknown_value",
            format!("unknown value{}", expected(message)),
        );
    }
    ("invalid", format!("invalid value{}", expected(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_the_value_but_keep_field_names() {
        let secret = "glpat-SENTINEL-0123456789";
        for message in [
            format!("invalid type: string \"{secret}\", expected u32"),
            format!("invalid value: string \"{secret}\", expected a UUID"),
            format!("unknown variant `{secret}`, expected one of `a`, `b`"),
            format!("something custom {secret}"),
        ] {
            let (_, detail) = describe_serde_error(&message);
            assert!(!detail.contains(secret), "{detail}");
        }
        assert_eq!(
            describe_serde_error("unknown field `colour`, expected one of `name`, `tags`"),
            ("unknown_field", "unknown field `colour`".to_owned())
        );
        assert_eq!(
            describe_serde_error("invalid type: integer `7`, expected a string").1,
            "invalid type, expected a string"
        );
        assert_eq!(describe_serde_error("missing field `name`").0, "missing");
    }

    #[test]
    fn core_errors_map_to_their_statuses() {
        let not_found = ApiError::from(Error::integration_not_found("x"));
        assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
        let denied = ApiError::from(Error::PermissionDenied {
            scope: "integrations.admin".into(),
        });
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert!(denied.details().detail.contains("integrations.admin"));
        let limited = ApiError::from(Error::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        });
        let response = limited.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let backend = ApiError::from(Error::backend(
            "sqlite",
            std::io::Error::other("disk at /secret/path is full"),
        ));
        assert_eq!(backend.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!backend.details().detail.contains("/secret/path"));
    }
}
