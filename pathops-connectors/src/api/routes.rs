//! The handlers, each with the OpenAPI description of its success answers. The problem
//! answers every operation can give are added in one place, [`super::openapi::finish`].

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pathops_core::catalog::{Catalog, Principal, Scope};
use pathops_core::doctor::Selection;
use pathops_core::page::{Cursor, ListFilter, ListQuery};
use pathops_core::store::AuditQuery;
use pathops_core::{
    Error, IntegrationId, IntegrationPatch, IntegrationStatus, IntegrationType, NewIntegration,
    Provider, TimeRange, ValidationError,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ApiState;
use super::auth::Caller;
use super::model::{
    ActivateInput, AuditPage, AuditParams, DoctorRunInput, HealthParams, HealthView,
    IntegrationInput, IntegrationPage, IntegrationView, ListParams, PageParams, PauseInput,
    PluginList, TestReportView, UnreadableView,
};
use super::problem::{ApiError, FieldError, Json, OptionalJson};

/// Where an integration lives: `/api/v1/integrations/{id}`.
pub(crate) const INTEGRATIONS: &str = "/api/v1/integrations";

type ApiResult<T> = Result<T, ApiError>;

/// A JSON answer with an optional `ETag` (the integration's version).
fn json<T: serde::Serialize>(status: StatusCode, body: &T, version: Option<u64>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(v) = version {
        response.headers_mut().insert(header::ETAG, etag(v));
    }
    response
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

fn integration(status: StatusCode, i: &pathops_core::Integration) -> Response {
    json(status, &IntegrationView::from(i), Some(i.version))
}

/// The path id: not a UUID is `400`; a UUID that is not v7 can name no integration (`404`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdPath(pub(crate) IntegrationId);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let template = route_template(parts);
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::parameter("id", "not a valid path segment").with_instance(&template)
            })?;
        let uuid = uuid::Uuid::parse_str(&raw)
            .map_err(|_| ApiError::parameter("id", "not a UUID").with_instance(&template))?;
        IntegrationId::from_uuid(uuid)
            .map(IdPath)
            .map_err(|_| ApiError::from(Error::integration_not_found(uuid)))
    }
}

/// The route's template (`/api/v1/integrations/{id}`): the `instance` of a problem with a
/// path segment, which must not be echoed.
fn route_template(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| INTEGRATIONS.to_owned(), |m| m.as_str().to_owned())
}

/// Query parameters, with a rejection that names the parameter but not its value.
#[derive(Debug)]
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(v)) => Ok(Params(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let (field, message) = match text.split_once(": ") {
                    Some((field, message)) if !field.contains(' ') => (field, message),
                    _ => ("query", text),
                };
                let (_, detail) = super::problem::describe_serde_error(message);
                Err(ApiError::parameter(field, detail))
            }
        }
    }
}

/// A query parameter's value parsed by a core type, as a `400` naming the parameter.
fn query_value<T>(
    name: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> ApiResult<Option<T>> {
    value
        .map(|v| parse(v).map_err(|e| ApiError::parameter(name, e.problem.to_string())))
        .transpose()
}

/// A body field parsed by a core type, as a `422` naming the field.
fn body_value<T>(
    field: &'static str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> ApiResult<Option<T>> {
    value
        .map(|v| {
            parse(v)
                .map_err(|e| ApiError::from(Error::from(ValidationError::new(field, e.problem))))
        })
        .transpose()
}

fn provider_param(
    name: &str,
    value: Option<&str>,
    integration_type: Option<IntegrationType>,
) -> ApiResult<Option<Provider>> {
    query_value(name, value, |v| match integration_type {
        Some(t) => Provider::parse_with_type(v, t),
        None => v.parse(),
    })
}

fn limit_param(value: Option<u32>, max: u32) -> ApiResult<Option<u32>> {
    match value {
        Some(n) if n == 0 || n > max => Err(ApiError::parameter(
            "limit",
            format!("must be between 1 and {max}"),
        )),
        other => Ok(other),
    }
}

fn cursor_param(value: Option<String>) -> ApiResult<Option<Cursor>> {
    match value {
        Some(c) if c.is_empty() || c.len() > Cursor::MAX_LEN => {
            Err(ApiError::from(Error::InvalidCursor {
                reason: "not a cursor this API issued",
            }))
        }
        other => Ok(other.map(Cursor::from_token)),
    }
}

fn page_view(page: pathops_core::Page<pathops_core::Integration>) -> IntegrationPage {
    IntegrationPage {
        items: page.items.iter().map(IntegrationView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.as_str().to_owned()),
        unreadable: page.unreadable.iter().map(UnreadableView::from).collect(),
    }
}

/// Lists the tenant's integrations, ordered by name.
#[utoipa::path(
    get, path = "/api/v1/integrations", operation_id = "listIntegrations", tag = "integrations",
    params(ListParams),
    responses((status = 200, description = "A page of integrations.", body = IntegrationPage)),
    security(("bearer" = ["integrations.read"]))
)]
pub(crate) async fn list_integrations(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Params(params): Params<ListParams>,
) -> ApiResult<Response> {
    let integration_type = query_value("type", params.integration_type.as_deref(), str::parse)?;
    let filter = ListFilter {
        provider: provider_param("provider", params.provider.as_deref(), integration_type)?,
        integration_type,
        status: query_value("status", params.status.as_deref(), |s| {
            s.parse::<IntegrationStatus>()
        })?,
        environment: query_value("environment", params.environment.as_deref(), str::parse)?,
        tag: params.tag,
        name_prefix: params.name_prefix,
    };
    let query = ListQuery {
        filter,
        cursor: cursor_param(params.cursor)?,
        limit: limit_param(params.limit, ListQuery::MAX_LIMIT)?,
    };
    let page = state.catalog.list(&principal, &query).await?;
    Ok(json(StatusCode::OK, &page_view(page), None))
}

/// Lists the tenant's integrations of one type (`GET /api/v1/integrations?type=…`).
#[utoipa::path(
    get, path = "/api/v1/integrations/by-type/{type}", operation_id = "listIntegrationsByType",
    tag = "integrations",
    params(("type" = super::model::TypeName, Path, description = "The integration type."), PageParams),
    responses((status = 200, description = "A page of integrations.", body = IntegrationPage)),
    security(("bearer" = ["integrations.read"]))
)]
pub(crate) async fn list_by_type(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    Params(params): Params<PageParams>,
) -> ApiResult<Response> {
    let integration_type = raw.parse::<IntegrationType>().map_err(|e| {
        ApiError::parameter("type", e.problem.to_string())
            .with_instance("/api/v1/integrations/by-type/{type}")
    })?;
    let page = state
        .catalog
        .list_by_type(
            &principal,
            integration_type,
            cursor_param(params.cursor)?,
            limit_param(params.limit, ListQuery::MAX_LIMIT)?,
        )
        .await?;
    Ok(json(StatusCode::OK, &page_view(page), None))
}

/// Validates an input body into a [`NewIntegration`]; every problem names its field.
fn new_integration(input: IntegrationInput) -> ApiResult<(NewIntegration, bool)> {
    let integration_type = input
        .integration_type
        .as_deref()
        .map(|t| {
            t.parse::<IntegrationType>()
                .map_err(|e| ValidationError::new("type", e.problem))
        })
        .transpose()
        .map_err(Error::from)?;
    let provider = match integration_type {
        Some(t) => Provider::parse_with_type(&input.provider, t),
        None => input.provider.parse(),
    }
    .map_err(Error::from)?;
    let mut builder = NewIntegration::builder(input.name, provider, input.base_url);
    if let Some(t) = integration_type {
        builder = builder.with_integration_type(t);
    }
    if let Some(r) = input.auth_ref {
        builder = builder.with_auth_ref(r);
    }
    if let Some(c) = input.configuration {
        builder = builder.with_configuration(c);
    }
    if let Some(e) = input.environment {
        builder = builder.with_environment(e);
    }
    if let Some(o) = input.owner {
        builder = builder.with_owner(o);
    }
    if let Some(d) = input.description {
        builder = builder.with_description(d);
    }
    let new = builder
        .with_tags(input.tags)
        .build()
        .map_err(|e| match e.field {
            // The API calls it `owner`.
            "owner_id" => ValidationError::new("owner", e.problem),
            _ => e,
        })
        .map_err(Error::from)?;
    Ok((new, input.submit))
}

/// Creates an integration (a draft, or submitted for verification with `submit`).
#[utoipa::path(
    post, path = "/api/v1/integrations", operation_id = "createIntegration", tag = "integrations",
    request_body = IntegrationInput,
    responses((status = 201, description = "Created.", body = IntegrationView, headers(
        ("Location" = String, description = "The new integration's URL."),
        ("ETag" = String, description = "Its version, for `If-Match`.")
    ))),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn create_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Json(input): Json<IntegrationInput>,
) -> ApiResult<Response> {
    let (new, submit) = new_integration(input)?;
    let created = state.catalog.create(&principal, new, submit).await?;
    let mut response = integration(StatusCode::CREATED, &created);
    let location = format!("{INTEGRATIONS}/{}", created.id);
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("a UUID path is a valid header value"),
    );
    Ok(response)
}

/// Reads one integration.
#[utoipa::path(
    get, path = "/api/v1/integrations/{id}", operation_id = "getIntegration", tag = "integrations",
    params(("id" = uuid::Uuid, Path, description = "The integration's id.")),
    responses((status = 200, description = "The integration.", body = IntegrationView, headers(
        ("ETag" = String, description = "Its version, for `If-Match`.")
    ))),
    security(("bearer" = ["integrations.read"]))
)]
pub(crate) async fn get_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let i = state.catalog.get(&principal, id).await?;
    Ok(integration(StatusCode::OK, &i))
}

/// What `If-Match` asks for: a version, or `*` (any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precondition {
    Version(u64),
    Any,
}

fn if_match(headers: &HeaderMap, required: bool) -> ApiResult<Option<Precondition>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        if required {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if_match_required",
                "this change needs an If-Match header naming the version it was based on (the \
                 ETag of a GET)",
            ));
        }
        return Ok(None);
    };
    let invalid = || {
        ApiError::parameter(
            "If-Match",
            "must be `*` or one entity tag such as \"3\" (an ETag this API issued)",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text == "*" {
        return Ok(Some(Precondition::Any));
    }
    let version = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(invalid)?;
    Ok(Some(Precondition::Version(version)))
}

/// The version to write at: the one `If-Match` names, or the current one.
async fn expected_version(
    catalog: &Catalog,
    principal: &Principal,
    id: IntegrationId,
    precondition: Option<Precondition>,
) -> ApiResult<u64> {
    let current = catalog.get(principal, id).await?;
    match precondition {
        Some(Precondition::Version(v)) if v != current.version => Err(stale(v, current.version)),
        Some(Precondition::Version(v)) => Ok(v),
        Some(Precondition::Any) | None => Ok(current.version),
    }
}

fn stale(expected: u64, actual: u64) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "stale_version",
        format!(
            "If-Match names version {expected}, but the integration is at version {actual}: \
             read it again and reapply the change"
        ),
    )
}

/// A version conflict after the precondition passed (a concurrent write) is stale too.
fn precondition_error(e: Error) -> ApiError {
    match e {
        Error::Conflict {
            expected, actual, ..
        } => stale(expected, actual.unwrap_or(expected + 1)),
        other => ApiError::from(other),
    }
}

/// Replaces an integration's writable fields. A change of `base_url`, `auth_ref`, `provider`
/// or `configuration` sends a verified integration back to verification.
#[utoipa::path(
    put, path = "/api/v1/integrations/{id}", operation_id = "replaceIntegration", tag = "integrations",
    params(
        ("id" = uuid::Uuid, Path, description = "The integration's id."),
        ("If-Match" = String, Header, description = "The `ETag` the change is based on, or `*`.",
            pattern = r#"^(\*|"[0-9]{1,19}")$"#)
    ),
    request_body = IntegrationInput,
    responses((status = 200, description = "The integration after the change.", body = IntegrationView, headers(
        ("ETag" = String, description = "Its new version.")
    ))),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn replace_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
    headers: HeaderMap,
    Json(input): Json<IntegrationInput>,
) -> ApiResult<Response> {
    // The scope first: a reader learns nothing from a precondition.
    principal.require(Scope::IntegrationsAdmin)?;
    let precondition = if_match(&headers, true)?;
    let (new, submit) = new_integration(input)?;
    let catalog = &state.catalog;
    let version = expected_version(catalog, &principal, id, precondition).await?;
    let patch = IntegrationPatch {
        name: Some(new.name),
        description: Some(new.description),
        provider: Some(new.provider),
        base_url: Some(new.base_url),
        auth_ref: Some(new.auth_ref),
        configuration: Some(new.configuration),
        environment: Some(new.environment),
        tags: Some(new.tags),
        owner_id: Some(new.owner_id),
    };
    let mut updated = match catalog.update(&principal, id, version, &patch).await {
        Ok(i) => i,
        // Replacing with the same content changes nothing, and that is not an error.
        Err(Error::Validation(v)) if v.problem == pathops_core::Problem::NoChanges => {
            catalog.get(&principal, id).await?
        }
        Err(e) => return Err(precondition_error(e)),
    };
    if submit && updated.status == IntegrationStatus::Draft {
        updated = catalog.submit_for_verification(&principal, id).await?;
    }
    Ok(integration(StatusCode::OK, &updated))
}

/// Deletes an integration (soft: its audit trail stays). It is not found afterwards.
#[utoipa::path(
    delete, path = "/api/v1/integrations/{id}", operation_id = "deleteIntegration", tag = "integrations",
    params(
        ("id" = uuid::Uuid, Path, description = "The integration's id."),
        ("If-Match" = Option<String>, Header, description = "Delete only at this version (`ETag`), or `*`.",
            pattern = r#"^(\*|"[0-9]{1,19}")$"#)
    ),
    responses((status = 204, description = "Deleted.")),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn delete_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // The scope first: a reader learns nothing from a precondition.
    principal.require(Scope::IntegrationsAdmin)?;
    let precondition = if_match(&headers, false)?;
    let version = expected_version(&state.catalog, &principal, id, precondition).await?;
    state
        .catalog
        .delete(&principal, id, version)
        .await
        .map_err(|e| match precondition {
            Some(Precondition::Version(_)) => precondition_error(e),
            _ => ApiError::from(e),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Tests the connection now and records the result as evidence.
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/test", operation_id = "testIntegration", tag = "checks",
    params(("id" = uuid::Uuid, Path, description = "The integration's id.")),
    responses((status = 200, description = "What the test found.", body = TestReportView)),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn test_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let report = state.catalog.test_connection(&principal, id).await?;
    Ok(json(
        StatusCode::OK,
        &TestReportView::from(&report),
        Some(report.integration.version),
    ))
}

/// The same as `POST …/{id}/test`, under the name the catalog's first API used.
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/health-check", operation_id = "healthCheckIntegration",
    tag = "checks",
    params(("id" = uuid::Uuid, Path, description = "The integration's id.")),
    responses((status = 200, description = "What the test found.", body = TestReportView)),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn health_check_integration(
    state: State<ApiState>,
    caller: Caller,
    id: IdPath,
) -> ApiResult<Response> {
    test_integration(state, caller, id).await
}

/// Pauses an integration: nothing contacts it until it is resumed.
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/pause", operation_id = "pauseIntegration", tag = "lifecycle",
    params(("id" = uuid::Uuid, Path, description = "The integration's id.")),
    request_body = PauseInput,
    responses((status = 200, description = "The paused integration.", body = IntegrationView, headers(
        ("ETag" = String, description = "Its new version.")
    ))),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn pause_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
    Json(input): Json<PauseInput>,
) -> ApiResult<Response> {
    let i = state
        .catalog
        .pause(&principal, id, &input.reason, input.ticket.as_deref())
        .await?;
    Ok(integration(StatusCode::OK, &i))
}

/// Resumes a paused integration and checks it at once.
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/resume", operation_id = "resumeIntegration", tag = "lifecycle",
    params(("id" = uuid::Uuid, Path, description = "The integration's id.")),
    responses((status = 200, description = "The first check after resuming.", body = TestReportView)),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn resume_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let report = state.catalog.resume(&principal, id).await?;
    Ok(json(
        StatusCode::OK,
        &TestReportView::from(&report),
        Some(report.integration.version),
    ))
}

/// Activates a verified integration; the caller is recorded as its approver.
#[utoipa::path(
    post, path = "/api/v1/integrations/{id}/activate", operation_id = "activateIntegration",
    tag = "lifecycle",
    params(("id" = uuid::Uuid, Path, description = "The integration's id.")),
    request_body(content = Option<ActivateInput>, description = "Optional: the approver, who must be the caller."),
    responses((status = 200, description = "The active integration.", body = IntegrationView, headers(
        ("ETag" = String, description = "Its new version.")
    ))),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn activate_integration(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
    OptionalJson(input): OptionalJson<ActivateInput>,
) -> ApiResult<Response> {
    if let Some(approver) = input.and_then(|i| i.approver)
        && approver != principal.actor.as_str()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "invalid approver: the approver is the calling actor; another person activates by \
             calling with their own credentials",
        )
        .with_errors(vec![FieldError {
            field: "approver".to_owned(),
            code: "not_the_caller".to_owned(),
            detail: "must be the calling actor".to_owned(),
        }]));
    }
    let i = state.catalog.activate(&principal, id).await?;
    Ok(integration(StatusCode::OK, &i))
}

fn time_param(name: &str, value: Option<&str>) -> ApiResult<Option<OffsetDateTime>> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map_err(|_| ApiError::parameter(name, "not an RFC 3339 date-time"))
        })
        .transpose()
}

/// The latest check, the history of a window and the summaries of the last 24 h, 7 d, 30 d.
#[utoipa::path(
    get, path = "/api/v1/integrations/{id}/health", operation_id = "getIntegrationHealth",
    tag = "checks",
    params(("id" = uuid::Uuid, Path, description = "The integration's id."), HealthParams),
    responses((status = 200, description = "Its health.", body = HealthView)),
    security(("bearer" = ["integrations.read"]))
)]
pub(crate) async fn get_health(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
    Params(params): Params<HealthParams>,
) -> ApiResult<Response> {
    let to = time_param("to", params.to.as_deref())?
        .unwrap_or_else(|| OffsetDateTime::now_utc() + time::Duration::microseconds(1));
    let from = time_param("from", params.from.as_deref())?.unwrap_or(to - time::Duration::days(1));
    if from >= to {
        return Err(ApiError::parameter("from", "must be before `to`"));
    }
    let limit = limit_param(params.limit, 1000)?.unwrap_or(100);
    let report = state
        .catalog
        .health(&principal, id, TimeRange::new(from, to), limit)
        .await?;
    Ok(json(StatusCode::OK, &HealthView::from(report), None))
}

/// The integration's audit trail, oldest first.
#[utoipa::path(
    get, path = "/api/v1/integrations/{id}/audit", operation_id = "getIntegrationAudit", tag = "audit",
    params(("id" = uuid::Uuid, Path, description = "The integration's id."), AuditParams),
    responses((status = 200, description = "A page of audit entries.", body = AuditPage)),
    security(("bearer" = ["integrations.read"]))
)]
pub(crate) async fn get_audit(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    IdPath(id): IdPath,
    Params(params): Params<AuditParams>,
) -> ApiResult<Response> {
    let limit = limit_param(params.limit, AuditQuery::MAX_LIMIT)?.unwrap_or(100);
    let after_sequence = params
        .cursor
        .map(|c| {
            c.parse::<u64>().map_err(|_| {
                ApiError::from(Error::InvalidCursor {
                    reason: "not a cursor this API issued",
                })
            })
        })
        .transpose()?;
    // A deleted or another tenant's integration is not found, here as everywhere.
    state.catalog.get(&principal, id).await?;
    let query = AuditQuery {
        after_sequence,
        limit: Some(limit),
        ..AuditQuery::for_integration(id)
    };
    let items = state.catalog.audit_query(&principal, &query).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.sequence.to_string()))
        .flatten();
    Ok(json(
        StatusCode::OK,
        &AuditPage { items, next_cursor },
        None,
    ))
}

/// The plugins recorded by the last discovery.
#[utoipa::path(
    get, path = "/api/v1/plugins", operation_id = "listPlugins", tag = "plugins",
    responses((status = 200, description = "The known plugins.", body = PluginList)),
    security(("bearer" = ["integrations.read"]))
)]
pub(crate) async fn list_plugins(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> ApiResult<Response> {
    let items = state.catalog.plugins(&principal).await?;
    Ok(json(StatusCode::OK, &PluginList { items }, None))
}

/// Records the compiled-in connectors and the plugins found on disk, serves checks through the
/// ready ones, and returns every known plugin.
#[utoipa::path(
    post, path = "/api/v1/plugins/discover", operation_id = "discoverPlugins", tag = "plugins",
    responses((status = 200, description = "The known plugins after discovery.", body = PluginList)),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn discover_plugins(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> ApiResult<Response> {
    let items = state.catalog.discover_plugins(&principal).await?;
    Ok(json(StatusCode::OK, &PluginList { items }, None))
}

/// Runs the doctor over a selection and returns its `pathops.doctor/v1` report. It reports
/// and suggests fixes; it never applies them.
#[utoipa::path(
    post, path = "/api/v1/doctor/runs", operation_id = "runDoctor", tag = "doctor",
    request_body(content = Option<DoctorRunInput>, description = "Which integrations; all of the tenant's when empty."),
    responses((status = 200, description = "The report (schema `pathops.doctor/v1`).", body = Object)),
    security(("bearer" = ["integrations.admin"]))
)]
pub(crate) async fn run_doctor(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    OptionalJson(input): OptionalJson<DoctorRunInput>,
) -> ApiResult<Response> {
    // Scope first, so a reader learns nothing about the server's configuration.
    principal.require(Scope::IntegrationsAdmin)?;
    let Some(doctor) = &state.doctor else {
        return Err(ApiError::from(Error::unsupported(
            "POST /api/v1/doctor/runs",
            "this server (no doctor is configured)",
        )));
    };
    let input = input.unwrap_or_default();
    let selection = match input.ids {
        Some(ids) => {
            let filtered = input.integration_type.is_some()
                || input.provider.is_some()
                || input.environment.is_some()
                || input.tag.is_some();
            if filtered {
                return Err(ApiError::from(Error::from(ValidationError::new(
                    "ids",
                    pathops_core::Problem::Malformed,
                ))));
            }
            let ids = ids
                .into_iter()
                .map(IntegrationId::from_uuid)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::from(ValidationError::new("ids", e.problem)))?;
            Selection::Ids(ids)
        }
        None => {
            let integration_type =
                body_value("type", input.integration_type.as_deref(), str::parse)?;
            let filter = ListFilter {
                provider: body_value("provider", input.provider.as_deref(), |v| {
                    match integration_type {
                        Some(t) => Provider::parse_with_type(v, t),
                        None => v.parse(),
                    }
                })?,
                integration_type,
                environment: body_value("environment", input.environment.as_deref(), str::parse)?,
                tag: input.tag,
                ..ListFilter::default()
            };
            if filter == ListFilter::default() {
                Selection::All
            } else {
                Selection::Filter(filter)
            }
        }
    };
    let report = doctor.run(&principal, &selection).await?;
    Ok(json(StatusCode::OK, &report, None))
}
