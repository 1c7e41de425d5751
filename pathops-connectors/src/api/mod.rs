//! The catalog's REST API (feature `api`): one axum [`Router`] an embedding service mounts,
//! with its OpenAPI 3.1 document and RFC 9457 problem details.
//!
//! ```no_run
//! use std::sync::Arc;
//! use pathops_core::catalog::Catalog;
//! use pathops_connectors::api::{Api, StaticTokens};
//!
//! # async fn serve(catalog: Catalog) -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = StaticTokens::from_file("/etc/pathops/tokens.json")?;
//! let app = Api::new(catalog).with_principals(tokens).router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! | method | path | scope | answer |
//! |---|---|---|---|
//! | GET | `/api/v1/integrations` | read | a page; filters `type`, `provider`, `status`, `environment`, `tag`, `name_prefix`; `cursor`, `limit` (1–500, default 50); ordered by name |
//! | GET | `/api/v1/integrations/by-type/{type}` | read | the same as `?type=` |
//! | POST | `/api/v1/integrations` | admin | `201`, `Location`, `ETag`; `submit: true` submits for verification at once |
//! | GET | `/api/v1/integrations/{id}` | read | `ETag: "<version>"` |
//! | PUT | `/api/v1/integrations/{id}` | admin | replaces every writable field; `If-Match` required (`428` without, `412` when stale); a connection change sends it back to verification |
//! | DELETE | `/api/v1/integrations/{id}` | admin | `204`; soft delete, then `404`; `If-Match` optional |
//! | POST | `/api/v1/integrations/{id}/test` | admin | tests the connection now; the check result |
//! | POST | `/api/v1/integrations/{id}/health-check` | admin | the same |
//! | POST | `/api/v1/integrations/{id}/pause` | admin | body `{reason, ticket?}` |
//! | POST | `/api/v1/integrations/{id}/resume` | admin | the first check after resuming |
//! | POST | `/api/v1/integrations/{id}/activate` | admin | body `{approver?}`: the approver is the caller (self-approval rules apply) |
//! | GET | `/api/v1/integrations/{id}/health` | read | latest check, history of `from`–`to` (default the last 24 h), summaries of 24 h / 7 d / 30 d |
//! | GET | `/api/v1/integrations/{id}/audit` | read | entries oldest first; `cursor`, `limit` (1–1000, default 100) |
//! | GET | `/api/v1/plugins` | read | the plugins of the last discovery |
//! | POST | `/api/v1/plugins/discover` | admin | records the registered connectors as plugins |
//! | POST | `/api/v1/doctor/runs` | admin | the doctor's `pathops.doctor/v1` report for `{ids}` or a filter; `501` without [`Api::with_doctor`] |
//! | GET | `/api/v1/openapi.json` | none | this API's OpenAPI 3.1 document |
//! | POST | `/webhooks/{kind}` | none (signed deliveries) | the webhook receiver, with [`Api::with_receiver`] |
//!
//! # Who is calling
//!
//! Authentication is the embedder's. A tower layer in front of the router may put a
//! [`Principal`](pathops_core::catalog::Principal) into the request's extensions; otherwise
//! the [`PrincipalResolver`] given to [`Api::with_principals`] turns the headers into one
//! ([`StaticTokens`] ships for examples and small deployments). No principal is `401` with
//! `WWW-Authenticate: Bearer realm="pathops"`; a missing scope is `403` naming it. The tenant
//! is the principal's: an id of another tenant's integration is `404`, never `403`, so
//! existence does not leak.
//!
//! # Errors
//!
//! Every error is `application/problem+json` (RFC 9457): `type`
//! (`urn:pathops:problem:<code>`), `title`, `status`, `detail`, `instance` (the path), a
//! stable `code`, and for `422` an `errors[]` entry per field. No detail echoes a rejected
//! value: a token pasted into the wrong field is not sent back or logged.
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `malformed_json`, `invalid_parameter`, `invalid_cursor` | JSON syntax (line and column only); a query, path or header parameter (a path id that is not a UUID); a cursor this API did not issue for this query |
//! | 401 | `unauthenticated` | no or a wrong credential |
//! | 403 | `missing_scope`, `self_approval` | the scope is named |
//! | 404 | `not_found` | missing, deleted, another tenant's, or a UUID that is not v7 |
//! | 409 | `already_exists`, `invalid_transition`, `conflict` | a taken name; a lifecycle step not allowed now |
//! | 412 | `stale_version` | `If-Match` is not the current version |
//! | 413 | `body_too_large` | over [`ApiOptions::max_body_bytes`] |
//! | 415 | `unsupported_media_type` | a body that is not `application/json` |
//! | 422 | `invalid_body`, `validation_failed` | wrong shape (unknown fields are named) or a rule of the catalog |
//! | 428 | `if_match_required` | `PUT` without `If-Match` |
//! | 429 | `rate_limited` | with `Retry-After` |
//! | 503 | `overloaded`, `backend_unavailable` | more than [`ApiOptions::max_in_flight`] requests, or the store failed (`Retry-After`) |
//! | 504 | `timeout` | over [`ApiOptions::request_timeout`] |
//!
//! # OpenAPI
//!
//! [`Api::openapi`] is generated from the handlers with utoipa 5 and utoipa-axum: each
//! handler's annotation sits beside its code, so the document cannot drift from the routes
//! (utoipa over aide: it does not change how handlers are written, and its 3.1 output is
//! plain serde types we can post-process). Every operation lists each status it can answer
//! with and its content type, the bearer security scheme, and links from a created
//! integration to the operations on it. The repository keeps a snapshot in
//! `docs/openapi.json`, compared by a test.
//!
//! # Limits and observability
//!
//! Bodies are capped ([`ApiOptions`], 256 KiB by default), requests time out (60 s) and at
//! most 128 are in flight (more are refused with `503` at once). Each request runs in an
//! `api.request` span (`method`, `route`, `status`) around the catalog's own spans
//! (`tenant_id`, `integration_id`, `provider`, `action`); `integration_crud_total` is counted
//! once per operation by the catalog.

mod auth;
mod model;
mod openapi;
mod problem;
mod routes;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pathops_core::catalog::Catalog;
use pathops_core::doctor::Doctor;
use pathops_core::webhook::WebhookReceiver;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{ExtensionsOnly, PrincipalResolver, StaticTokens};
pub use model::{
    ActivateInput, AuditPage, DoctorRunInput, HealthView, IntegrationInput, IntegrationPage,
    IntegrationView, PauseInput, PluginList, TestReportView, UnreadableView,
};
pub use problem::{ApiError, FieldError, PROBLEM_JSON, PROBLEM_TYPE_PREFIX, ProblemDetails};

use crate::receiver::{self, RouterOptions};

/// The limits of the API's HTTP edge. Build with [`ApiOptions::new`] and the `with_*`
/// setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiOptions {
    /// Largest request body read (`413` beyond).
    pub max_body_bytes: usize,
    /// Longest a request may take, body included (`504` beyond). A doctor run over many
    /// integrations waits for webhook deliveries: give it room.
    pub request_timeout: Duration,
    /// Most requests handled at once; more are refused with `503`.
    pub max_in_flight: usize,
}

impl ApiOptions {
    /// 256 KiB: four configurations at their largest.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
    /// 60 s.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// 128.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 128;

    /// The defaults.
    pub fn new() -> Self {
        Self {
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// Sets the body cap.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how many requests may be in flight (at least 1).
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    catalog: Catalog,
    principals: Arc<dyn PrincipalResolver>,
    doctor: Option<Doctor>,
}

/// Builds the API's [`Router`]. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Api {
    state: ApiState,
    receiver: Option<(WebhookReceiver, RouterOptions)>,
    options: ApiOptions,
}

impl Api {
    /// The API over `catalog`. Until [`with_principals`](Self::with_principals) is called,
    /// only requests carrying a [`Principal`](pathops_core::catalog::Principal) in their
    /// extensions are let in ([`ExtensionsOnly`]).
    pub fn new(catalog: Catalog) -> Self {
        Self {
            state: ApiState {
                catalog,
                principals: Arc::new(ExtensionsOnly),
                doctor: None,
            },
            receiver: None,
            options: ApiOptions::default(),
        }
    }

    /// Resolves principals from request headers with `resolver`.
    pub fn with_principals(mut self, resolver: impl PrincipalResolver) -> Self {
        self.state.principals = Arc::new(resolver);
        self
    }

    /// Serves `POST /api/v1/doctor/runs` with `doctor`.
    pub fn with_doctor(mut self, doctor: Doctor) -> Self {
        self.state.doctor = Some(doctor);
        self
    }

    /// Mounts the webhook receiver's routes (`/webhooks/{kind}`, see
    /// [`crate::receiver`]) beside the API, with their own limits and error bodies.
    pub fn with_receiver(mut self, receiver: WebhookReceiver, options: RouterOptions) -> Self {
        self.receiver = Some((receiver, options));
        self
    }

    /// Sets the HTTP limits.
    pub fn with_options(mut self, options: ApiOptions) -> Self {
        self.options = options;
        self
    }

    fn routes() -> (Router<ApiState>, serde_json::Value) {
        let (router, openapi) = OpenApiRouter::with_openapi(openapi::base())
            .routes(routes!(
                routes::list_integrations,
                routes::create_integration
            ))
            .routes(routes!(routes::list_by_type))
            .routes(routes!(
                routes::get_integration,
                routes::replace_integration,
                routes::delete_integration
            ))
            .routes(routes!(routes::test_integration))
            .routes(routes!(routes::health_check_integration))
            .routes(routes!(routes::pause_integration))
            .routes(routes!(routes::resume_integration))
            .routes(routes!(routes::activate_integration))
            .routes(routes!(routes::get_health))
            .routes(routes!(routes::get_audit))
            .routes(routes!(routes::list_plugins))
            .routes(routes!(routes::discover_plugins))
            .routes(routes!(routes::run_doctor))
            .split_for_parts();
        let mut document = serde_json::to_value(openapi::finish(openapi))
            .expect("the OpenAPI document serializes");
        openapi::add_links(&mut document);
        (router, document)
    }

    /// The API's OpenAPI 3.1 document, exactly as served at `/api/v1/openapi.json`.
    pub fn openapi() -> serde_json::Value {
        Self::routes().1
    }

    /// The router: the API, its OpenAPI document and, when configured, the receiver.
    pub fn router(&self) -> Router {
        let (routes, openapi) = Self::routes();
        let document: Arc<str> = serde_json::to_string_pretty(&openapi)
            .expect("the OpenAPI document serializes")
            .into();
        let options = &self.options;
        let api = routes
            .route(
                "/api/v1/openapi.json",
                get(move || {
                    let document = Arc::clone(&document);
                    async move {
                        (
                            [(header::CONTENT_TYPE, "application/json")],
                            document.to_string(),
                        )
                    }
                }),
            )
            .with_state(self.state.clone())
            .layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(overloaded))
                    .load_shed()
                    .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight))
                    .layer(RequestBodyLimitLayer::new(options.max_body_bytes))
                    .layer(TimeoutLayer::with_status_code(
                        StatusCode::GATEWAY_TIMEOUT,
                        options.request_timeout,
                    ))
                    .layer(DefaultBodyLimit::disable()),
            )
            .layer(axum::middleware::from_fn(problems));
        let api = match &self.receiver {
            Some((receiver, receiver_options)) => {
                api.merge(receiver::routes(receiver.clone(), receiver_options.clone()))
            }
            None => api,
        };
        api.fallback(no_route)
    }
}

async fn overloaded(_: tower::BoxError) -> Result<Response, Infallible> {
    Ok(ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE)
        .with_retry_after(Duration::from_secs(1))
        .into_response())
}

async fn no_route(uri: Uri) -> Response {
    with_instance(
        ApiError::from_status(StatusCode::NOT_FOUND).into_response(),
        uri.path(),
    )
}

/// Runs a request in its span and makes every error answer a problem document whose
/// `instance` is the request path: the handlers' own, and the ones produced around them
/// (405 with its `Allow`, the body limit's 413, the timeout's 504).
async fn problems(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "api.request",
        method = %request.method(),
        route = %route,
        status = tracing::field::Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    let response = if response.extensions().get::<ProblemDetails>().is_some() {
        response
    } else if response.status().is_client_error() || response.status().is_server_error() {
        let (parts, _) = response.into_parts();
        let mut problem = ApiError::from_status(parts.status).into_response();
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(value) = parts.headers.get(&name) {
                problem.headers_mut().insert(name, value.clone());
            }
        }
        problem
    } else {
        return response;
    };
    with_instance(response, &path)
}

/// Re-renders a problem response with `instance` set.
fn with_instance(response: Response, path: &str) -> Response {
    let Some(mut details) = response.extensions().get::<ProblemDetails>().cloned() else {
        return response;
    };
    if details.instance.is_some() {
        return response;
    }
    details.instance = Some(path.to_owned());
    let (mut parts, _) = response.into_parts();
    let body = serde_json::to_vec(&details).expect("problem details serialize");
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, axum::body::Body::from(body))
}
