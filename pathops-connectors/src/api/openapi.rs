//! The OpenAPI document: what the handlers declare, plus the problem answers every operation
//! can give, the security scheme and the links between operations.

use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr};
use utoipa::{Modify, OpenApi as _, PartialSchema, ToSchema};

use super::problem::{FieldError, PROBLEM_JSON, ProblemDetails};

/// The document's fixed parts.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "PathOps catalog API",
        description = "A tenant-scoped catalog of external tools: integrations with credential \
            references (never secrets), a lifecycle, health evidence and an audit trail. The \
            tenant of every call is the caller's; errors are RFC 9457 problem documents.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "integrations", description = "Create, read, replace, delete and list."),
        (name = "lifecycle", description = "Pause, resume, activate."),
        (name = "checks", description = "Connection tests and health evidence."),
        (name = "audit", description = "The audit trail."),
        (name = "plugins", description = "Connector plugins."),
        (name = "doctor", description = "End-to-end checks with suggested fixes."),
    ),
    modifiers(&Security)
)]
pub(crate) struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "A token the embedding service's principal resolver accepts (the `serve` example: \
             static tokens from a file)."
                .to_owned(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// Statuses every authenticated operation can answer with a problem document.
const COMMON: &[u16] = &[400, 401, 403, 429, 500, 503, 504];

/// The statuses an operation adds to [`COMMON`], by operation id.
fn extra_statuses(operation_id: &str) -> &'static [u16] {
    match operation_id {
        "createIntegration" => &[409, 413, 415, 422],
        "replaceIntegration" => &[404, 409, 412, 413, 415, 422, 428],
        "deleteIntegration" => &[404, 409, 412],
        "getIntegration" | "getIntegrationHealth" | "getIntegrationAudit" => &[404],
        "testIntegration" | "healthCheckIntegration" | "resumeIntegration" => &[404, 409],
        "pauseIntegration" => &[404, 409, 413, 415, 422],
        "activateIntegration" => &[404, 409, 413, 415, 422],
        "runDoctor" => &[404, 409, 413, 415, 422, 501],
        "listIntegrations" | "listIntegrationsByType" => &[],
        _ => &[],
    }
}

fn describe(status: u16) -> &'static str {
    match status {
        400 => {
            "A malformed request: a parameter, a path id that is not a UUID, JSON syntax, a cursor."
        }
        401 => "No valid credential (`WWW-Authenticate: Bearer`).",
        403 => "The caller lacks the scope the problem names (or approves its own change).",
        404 => "No such integration visible to the caller (missing, deleted or another tenant's).",
        409 => "Already exists, or the lifecycle does not allow this now.",
        412 => "`If-Match` names a version that is not the current one.",
        413 => "The body is larger than the server accepts.",
        415 => "The body is not `application/json`.",
        422 => "The body is JSON but not valid: `errors[]` names each field.",
        428 => "`If-Match` is required.",
        429 => "Rate limited (`Retry-After`).",
        500 => "An internal error (the server's log has the cause).",
        501 => "The server does not offer this operation.",
        503 => "Overloaded or the backend is unavailable (`Retry-After`).",
        504 => "A deadline passed.",
        _ => "An error.",
    }
}

/// Adds the problem answers and the problem schema to `openapi`.
pub(crate) fn finish(mut openapi: OpenApi) -> OpenApi {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        ProblemDetails::name().into_owned(),
        ProblemDetails::schema(),
    );
    components
        .schemas
        .insert(FieldError::name().into_owned(), FieldError::schema());
    let problem = || {
        ContentBuilder::new()
            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                ProblemDetails::name(),
            ))))
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            let id = operation.operation_id.clone().unwrap_or_default();
            let authenticated = operation.security.is_some();
            let statuses = COMMON
                .iter()
                .filter(|_| authenticated)
                .chain(extra_statuses(&id));
            for status in statuses {
                let key = status.to_string();
                operation.responses.responses.entry(key).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(describe(*status))
                            .content(PROBLEM_JSON, problem())
                            .build(),
                    )
                });
            }
        }
    }
    openapi
}

/// Links from the created integration to every operation on it, so a stateful client (and
/// Schemathesis's stateful phase) can follow `POST` → `GET`/`PUT`/`DELETE`/…. Written into
/// the JSON: utoipa 5 serializes a link's `operationId` under the wrong name.
pub(crate) fn add_links(document: &mut serde_json::Value) {
    let targets = [
        ("GetIntegration", "getIntegration", false),
        ("ReplaceIntegration", "replaceIntegration", true),
        ("DeleteIntegration", "deleteIntegration", true),
        ("TestIntegration", "testIntegration", false),
        ("PauseIntegration", "pauseIntegration", false),
        ("ResumeIntegration", "resumeIntegration", false),
        ("ActivateIntegration", "activateIntegration", false),
        ("GetIntegrationHealth", "getIntegrationHealth", false),
        ("GetIntegrationAudit", "getIntegrationAudit", false),
    ];
    let Some(created) = document
        .pointer_mut("/paths/~1api~1v1~1integrations/post/responses/201")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let links: serde_json::Map<String, serde_json::Value> = targets
        .into_iter()
        .map(|(name, operation_id, versioned)| {
            let mut parameters = serde_json::json!({ "path.id": "$response.body#/id" });
            if versioned {
                parameters["header.If-Match"] = "$response.header.ETag".into();
            }
            (
                name.to_owned(),
                serde_json::json!({ "operationId": operation_id, "parameters": parameters }),
            )
        })
        .collect();
    created.insert("links".to_owned(), links.into());
}

/// The fixed parts of the document.
pub(crate) fn base() -> OpenApi {
    ApiDoc::openapi()
}
