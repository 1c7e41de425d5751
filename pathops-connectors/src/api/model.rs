//! The API's wire format. These types own it: a field of a core type renamed or added does
//! not change what the API answers unless it is changed here too.

use std::borrow::Cow;

use pathops_core::catalog::{HealthReport, TestReport};
use pathops_core::store::PluginMetadata;
use pathops_core::{
    AuditEntry, CheckResult, HealthCheckRecord, HealthSummary, Integration, IntegrationStatus,
    IntegrationType, Provider, Unreadable,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

/// A string schema listing `values`.
fn string_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values.into_iter().collect::<Vec<_>>()))
        .into()
}

/// Schema of an integration type name (`scm`, `registry`, …).
#[derive(Debug)]
pub(crate) struct TypeName;

impl PartialSchema for TypeName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "The kind of tool.",
            IntegrationType::ALL.iter().map(IntegrationType::as_str),
        )
    }
}
impl ToSchema for TypeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IntegrationType")
    }
}

/// Schema of a lifecycle status name.
#[derive(Debug)]
pub(crate) struct StatusName;

impl PartialSchema for StatusName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "Where the integration is in its lifecycle.",
            IntegrationStatus::ALL.iter().map(IntegrationStatus::as_str),
        )
    }
}
impl ToSchema for StatusName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IntegrationStatus")
    }
}

/// Schema of a provider name: a built-in one or a custom one.
#[derive(Debug)]
pub(crate) struct ProviderName;

impl PartialSchema for ProviderName {
    fn schema() -> RefOr<Schema> {
        let built_in: Vec<&str> = Provider::BUILT_IN.iter().map(Provider::as_str).collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!(
                "A built-in provider ({}) or a custom one: lowercase ASCII letters, digits and \
                 `-`, 1–64 characters, starting with a letter; a custom provider needs `type`.",
                built_in.join(", ")
            )))
            .pattern(Some("^[a-z][a-z0-9-]{0,63}$"))
            .into()
    }
}
impl ToSchema for ProviderName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ProviderName")
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("stored times format as RFC 3339")
}

/// One integration, as the API shows it. Holds a credential *reference*, never a secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Integration)]
pub struct IntegrationView {
    /// Identity (UUID v7).
    #[schema(format = Uuid)]
    pub id: String,
    /// Display name, unique within the tenant.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The kind of tool.
    #[serde(rename = "type")]
    #[schema(value_type = TypeName)]
    pub integration_type: String,
    /// Which product.
    #[schema(value_type = ProviderName)]
    pub provider: String,
    /// Where the tool is reached.
    pub base_url: String,
    /// Where its credential lives (`ref://…`), never the credential.
    pub auth_ref: Option<String>,
    /// Provider-specific settings.
    #[schema(value_type = Object)]
    pub configuration: Value,
    /// Deployment environment.
    pub environment: Option<String>,
    /// Labels, sorted.
    pub tags: Vec<String>,
    /// Accountable owner.
    pub owner: Option<String>,
    /// Lifecycle status.
    #[schema(value_type = StatusName)]
    pub status: String,
    /// Whether a connection test has passed since the connection settings last changed.
    pub verified: bool,
    /// Why it is paused.
    pub pause_reason: Option<String>,
    /// The change ticket of the pause.
    pub pause_ticket: Option<String>,
    /// When it was last tested or checked.
    #[schema(format = DateTime)]
    pub last_tested_at: Option<String>,
    /// Whether that check passed.
    pub last_test_success: Option<bool>,
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    /// Whether its health flaps.
    pub flapping: bool,
    /// When it was created.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When it last changed.
    #[schema(format = DateTime)]
    pub modified_at: String,
    /// Who changed it last.
    pub modified_by: String,
    /// Increases on every stored change; the `ETag` and what `If-Match` names.
    pub version: u64,
}

impl From<&Integration> for IntegrationView {
    fn from(i: &Integration) -> Self {
        Self {
            id: i.id.to_string(),
            name: i.name.as_str().to_owned(),
            description: i.description.as_ref().map(|d| d.as_str().to_owned()),
            integration_type: i.integration_type.as_str().to_owned(),
            provider: i.provider.as_str().to_owned(),
            base_url: i.base_url.as_str().to_owned(),
            auth_ref: i.auth_ref.as_ref().map(|r| r.as_str().to_owned()),
            configuration: i.configuration.to_value(),
            environment: i.environment.as_ref().map(|e| e.as_str().to_owned()),
            tags: i.tags.as_slice().to_vec(),
            owner: i.owner_id.as_ref().map(|o| o.as_str().to_owned()),
            status: i.status.as_str().to_owned(),
            verified: i.verified,
            pause_reason: i.pause_reason.clone(),
            pause_ticket: i.pause_ticket.clone(),
            last_tested_at: i.last_tested_at.map(rfc3339),
            last_test_success: i.last_test_success,
            consecutive_failures: i.consecutive_failures,
            flapping: i.flapping,
            created_at: rfc3339(i.created_at),
            created_by: i.created_by.as_str().to_owned(),
            modified_at: rfc3339(i.modified_at),
            modified_by: i.modified_by.as_str().to_owned(),
            version: i.version,
        }
    }
}

/// What `POST /api/v1/integrations` and `PUT /api/v1/integrations/{id}` take. A `PUT`
/// replaces every writable field: one left out is cleared (or, for `configuration` and
/// `tags`, emptied).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "provider": "gitlab",
    "name": "GitLab (platform)",
    "base_url": "https://gitlab.example.com",
    "auth_ref": "ref://acme/gitlab/ci-token",
    "configuration": { "project": "platform/api", "hook_id": 7 },
    "environment": "prod",
    "tags": ["team:platform"],
    "submit": true
}))]
pub struct IntegrationInput {
    /// The kind of tool. Optional for a built-in provider (which has one type); required for
    /// a custom provider.
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<TypeName>)]
    pub integration_type: Option<String>,
    /// Which product.
    #[schema(value_type = ProviderName)]
    pub provider: String,
    /// Display name, unique within the tenant: 1–128 characters of letters, marks, numbers,
    /// spaces and `- _ . : / ( ) @ + #`, no surrounding whitespace.
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// An absolute `http`/`https` URL without credentials, query or fragment.
    pub base_url: String,
    /// Where the credential lives: `ref://<tenant>/<provider>/<key>` (or another scheme the
    /// operator enabled). Never the credential itself.
    #[serde(default)]
    pub auth_ref: Option<String>,
    /// Provider-specific settings: a JSON object (at most 64 KiB, 32 levels).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Value>,
    /// Deployment environment (lowercase letters, digits and `-`).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 32)]
    pub environment: Option<String>,
    /// Labels (at most 32, each 1–64 characters).
    #[serde(default)]
    #[schema(max_items = 32)]
    pub tags: Vec<String>,
    /// Accountable owner (an actor id).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128)]
    pub owner: Option<String>,
    /// Free text (at most 1,024 characters).
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// Submit for verification at once (a draft otherwise). On `PUT`, submits a draft after
    /// the change.
    #[serde(default)]
    pub submit: bool,
}

/// A page of integrations.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationPage {
    /// The integrations, ordered by name then id.
    pub items: Vec<IntegrationView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
    /// Stored rows on this page that cannot be read back (reported, not failed).
    pub unreadable: Vec<UnreadableView>,
}

/// A stored row that cannot be read back.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadableView {
    /// Its id, when readable.
    #[schema(format = Uuid)]
    pub id: Option<String>,
    /// Its name, when readable.
    pub name: Option<String>,
    /// Why it cannot be read.
    pub reason: String,
}

impl From<&Unreadable> for UnreadableView {
    fn from(u: &Unreadable) -> Self {
        Self {
            id: u.id.map(|id| id.to_string()),
            name: u.name.clone(),
            reason: u.reason.clone(),
        }
    }
}

/// The list filters and paging of `GET /api/v1/integrations`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only integrations of this type.
    #[serde(default, rename = "type")]
    #[param(value_type = Option<TypeName>)]
    pub integration_type: Option<String>,
    /// Only this provider.
    #[serde(default)]
    #[param(value_type = Option<ProviderName>)]
    pub provider: Option<String>,
    /// Only in this status.
    #[serde(default)]
    #[param(value_type = Option<StatusName>)]
    pub status: Option<String>,
    /// Only in this environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Only those carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only those whose name starts with this (case-sensitive).
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// The `next_cursor` of the previous page (same filters).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Paging of `GET /api/v1/integrations/by-type/{type}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// `POST /api/v1/integrations/{id}/pause`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "reason": "maintenance window", "ticket": "CHG-1042" }))]
pub struct PauseInput {
    /// Why (required, recorded in the audit trail).
    #[schema(min_length = 1, max_length = 1024)]
    pub reason: String,
    /// The change ticket, if any.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1024)]
    pub ticket: Option<String>,
}

/// `POST /api/v1/integrations/{id}/activate`. The approver is always the caller; naming
/// someone else is refused.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateInput {
    /// Who approves: must be the calling actor.
    #[serde(default)]
    pub approver: Option<String>,
}

/// What a connection test or health check found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestReportView {
    /// The integration after the result was recorded.
    pub integration: IntegrationView,
    /// What the connector reported: `status`, `checks[]` with failure codes and remediation.
    #[schema(value_type = Object)]
    pub result: CheckResult,
    /// The `health_checks` row written.
    #[schema(value_type = Object)]
    pub record: HealthCheckRecord,
}

impl From<&TestReport> for TestReportView {
    fn from(r: &TestReport) -> Self {
        Self {
            integration: IntegrationView::from(&r.integration),
            result: r.result.clone(),
            record: r.record.clone(),
        }
    }
}

/// The window of `GET /api/v1/integrations/{id}/health`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HealthParams {
    /// Start of the window (RFC 3339, inclusive); default 24 hours before `to`.
    #[serde(default)]
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// End of the window (RFC 3339, exclusive); default now.
    #[serde(default)]
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Most history rows, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// An integration's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// The most recent check ever recorded.
    #[schema(value_type = Option<Object>)]
    pub latest: Option<HealthCheckRecord>,
    /// Checks in the window, newest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<HealthCheckRecord>,
    /// Summary of the window.
    #[schema(value_type = Object)]
    pub summary: HealthSummary,
    /// Summary of the last 24 hours.
    #[schema(value_type = Object)]
    pub last_24h: HealthSummary,
    /// Summary of the last 7 days.
    #[schema(value_type = Object)]
    pub last_7d: HealthSummary,
    /// Summary of the last 30 days.
    #[schema(value_type = Object)]
    pub last_30d: HealthSummary,
    /// Whether it flaps now.
    pub flapping: bool,
}

impl From<HealthReport> for HealthView {
    fn from(r: HealthReport) -> Self {
        Self {
            latest: r.latest,
            history: r.history,
            summary: r.summary,
            last_24h: r.last_24h,
            last_7d: r.last_7d,
            last_30d: r.last_30d,
            flapping: r.flapping,
        }
    }
}

/// Paging of `GET /api/v1/integrations/{id}/audit`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of audit entries, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries: who did what, when, with a field-level diff (never a secret).
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// The plugins the catalog knows.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    /// One entry per plugin: its descriptor (id, provider, type, version, capabilities), when
    /// it was discovered, its `state` (`ready`, `quarantined` or `disabled`, with a `reason`),
    /// and for an out-of-process plugin its executable's `path` and `sha256`.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<PluginMetadata>,
}

/// `POST /api/v1/doctor/runs`: which integrations to check. Empty: all of the tenant's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorRunInput {
    /// These integrations (at most 500).
    #[serde(default)]
    #[schema(max_items = 500)]
    pub ids: Option<Vec<uuid::Uuid>>,
    /// Or those of this type.
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<TypeName>)]
    pub integration_type: Option<String>,
    /// Or of this provider.
    #[serde(default)]
    #[schema(value_type = Option<ProviderName>)]
    pub provider: Option<String>,
    /// Or in this environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Or carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
}
