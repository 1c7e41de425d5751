//! Reading rows back into domain values, the same way on every SQL backend.
//!
//! [`RowExt`] is the handful of typed column reads the decoders need; it is implemented once
//! for every sqlx row type whose database can decode the column types used in the schema.

use pathops_core::audit::{AuditAction, AuditEntry, AuditRecord};
use pathops_core::event::{EventEnvelope, EventType, OutboxEntry};
use pathops_core::health::{CheckKind, HealthCheckRecord, HealthStatus};
use pathops_core::store::{PluginMetadata, PluginState};
use pathops_core::{
    AuthRef, BaseUrl, Configuration, Description, Integration, IntegrationId, IntegrationName,
    IntegrationType, Provider, Result, Tags,
};
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;

/// Microseconds since the Unix epoch, the stored form of every time.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    // Every representable OffsetDateTime fits: ±9999 years are ~3.2e17 µs.
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// A row being decoded: typed reads by column name that report which column was bad.
pub(crate) trait RowExt {
    /// The backend, for error reports.
    fn backend(&self) -> &'static str;
    /// A text column.
    fn text(&self, table: &'static str, col: &'static str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, table: &'static str, col: &'static str) -> Result<Option<String>>;
    /// An integer column.
    fn int(&self, table: &'static str, col: &'static str) -> Result<i64>;
    /// A nullable integer column.
    fn opt_int(&self, table: &'static str, col: &'static str) -> Result<Option<i64>>;
    /// A boolean column.
    fn boolean(&self, table: &'static str, col: &'static str) -> Result<bool>;
    /// A nullable boolean column.
    fn opt_boolean(&self, table: &'static str, col: &'static str) -> Result<Option<bool>>;
    /// A UUID column.
    fn uuid(&self, table: &'static str, col: &'static str) -> Result<Uuid>;
    /// A nullable UUID column.
    fn opt_uuid(&self, table: &'static str, col: &'static str) -> Result<Option<Uuid>>;
    /// A JSON column (`JSONB` or `TEXT`).
    fn json(&self, table: &'static str, col: &'static str) -> Result<serde_json::Value>;
    /// A nullable JSON column.
    fn opt_json(&self, table: &'static str, col: &'static str)
    -> Result<Option<serde_json::Value>>;
}

impl<R> RowExt for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Json<serde_json::Value>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn backend(&self) -> &'static str {
        backend_name::<R::Database>()
    }
    fn text(&self, table: &'static str, col: &'static str) -> Result<String> {
        get(self, table, col)
    }
    fn opt_text(&self, table: &'static str, col: &'static str) -> Result<Option<String>> {
        get(self, table, col)
    }
    fn int(&self, table: &'static str, col: &'static str) -> Result<i64> {
        get(self, table, col)
    }
    fn opt_int(&self, table: &'static str, col: &'static str) -> Result<Option<i64>> {
        get(self, table, col)
    }
    fn boolean(&self, table: &'static str, col: &'static str) -> Result<bool> {
        get(self, table, col)
    }
    fn opt_boolean(&self, table: &'static str, col: &'static str) -> Result<Option<bool>> {
        get(self, table, col)
    }
    fn uuid(&self, table: &'static str, col: &'static str) -> Result<Uuid> {
        get(self, table, col)
    }
    fn opt_uuid(&self, table: &'static str, col: &'static str) -> Result<Option<Uuid>> {
        get(self, table, col)
    }
    fn json(&self, table: &'static str, col: &'static str) -> Result<serde_json::Value> {
        get::<R, Json<serde_json::Value>>(self, table, col).map(|j| j.0)
    }
    fn opt_json(
        &self,
        table: &'static str,
        col: &'static str,
    ) -> Result<Option<serde_json::Value>> {
        get::<R, Option<Json<serde_json::Value>>>(self, table, col).map(|j| j.map(|j| j.0))
    }
}

/// The PathOps backend name of a sqlx database.
fn backend_name<DB: sqlx::Database>() -> &'static str {
    match DB::NAME {
        "SQLite" => "sqlite",
        "PostgreSQL" => "postgres",
        _ => "sql",
    }
}

fn get<'r, R, T>(row: &'r R, table: &'static str, col: &'static str) -> Result<T>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(col).map_err(|e| {
        StoreError::CorruptRow {
            table,
            column: col,
            source: Some(e.into()),
        }
        .into_error(backend_name::<R::Database>())
    })
}

/// Parses a stored value, reporting the column when it is invalid.
fn parse<T, E>(
    row: &impl RowExt,
    table: &'static str,
    col: &'static str,
    value: std::result::Result<T, E>,
) -> Result<T>
where
    E: Into<pathops_core::error::BoxError>,
{
    value.map_err(|e| {
        StoreError::CorruptRow {
            table,
            column: col,
            source: Some(e.into()),
        }
        .into_error(row.backend())
    })
}

fn time(
    row: &impl RowExt,
    table: &'static str,
    col: &'static str,
    us: i64,
) -> Result<OffsetDateTime> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000);
    parse(row, table, col, t)
}

pub(crate) fn opt_time(
    row: &impl RowExt,
    table: &'static str,
    col: &'static str,
) -> Result<Option<OffsetDateTime>> {
    row.opt_int(table, col)?
        .map(|us| time(row, table, col, us))
        .transpose()
}

fn req_time(row: &impl RowExt, table: &'static str, col: &'static str) -> Result<OffsetDateTime> {
    let us = row.int(table, col)?;
    time(row, table, col, us)
}

fn unsigned<T: TryFrom<i64>>(
    row: &impl RowExt,
    table: &'static str,
    col: &'static str,
    v: i64,
) -> Result<T> {
    T::try_from(v)
        .map_err(|_| StoreError::OutOfRange { table, column: col }.into_error(row.backend()))
}

fn from_json<T: DeserializeOwned>(
    row: &impl RowExt,
    table: &'static str,
    col: &'static str,
    value: serde_json::Value,
) -> Result<T> {
    parse(row, table, col, serde_json::from_value(value))
}

fn known<T>(
    row: &impl RowExt,
    table: &'static str,
    col: &'static str,
    value: Option<T>,
) -> Result<T> {
    value.ok_or_else(|| {
        StoreError::CorruptRow {
            table,
            column: col,
            source: None,
        }
        .into_error(row.backend())
    })
}

/// An integration from a row of [`INTEGRATION_COLUMNS`](super::schema::INTEGRATION_COLUMNS).
pub(crate) fn integration(row: &impl RowExt) -> Result<Integration> {
    const T: &str = "integrations";
    let integration_type: IntegrationType = parse(
        row,
        T,
        "integration_type",
        row.text(T, "integration_type")?.parse(),
    )?;
    let provider = row.text(T, "provider")?;
    let tags: Vec<String> = from_json(row, T, "tags", row.json(T, "tags")?)?;
    Ok(Integration {
        id: parse(row, T, "id", IntegrationId::from_uuid(row.uuid(T, "id")?))?,
        tenant_id: parse(row, T, "tenant_id", row.text(T, "tenant_id")?.parse())?,
        name: parse(row, T, "name", IntegrationName::new(row.text(T, "name")?))?,
        description: row
            .opt_text(T, "description")?
            .map(|d| parse(row, T, "description", Description::new(d)))
            .transpose()?,
        integration_type,
        provider: parse(
            row,
            T,
            "provider",
            Provider::parse_with_type(&provider, integration_type),
        )?,
        base_url: parse(
            row,
            T,
            "base_url",
            BaseUrl::parse(&row.text(T, "base_url")?),
        )?,
        auth_ref: row
            .opt_text(T, "auth_ref")?
            .map(|r| parse(row, T, "auth_ref", AuthRef::parse(&r)))
            .transpose()?,
        configuration: parse(
            row,
            T,
            "configuration",
            Configuration::new(row.json(T, "configuration")?),
        )?,
        environment: row
            .opt_text(T, "environment")?
            .map(|e| parse(row, T, "environment", e.parse()))
            .transpose()?,
        tags: parse(row, T, "tags", Tags::new(tags))?,
        owner_id: row
            .opt_text(T, "owner_id")?
            .map(|o| parse(row, T, "owner_id", o.parse()))
            .transpose()?,
        status: parse(row, T, "status", row.text(T, "status")?.parse())?,
        verified: row.boolean(T, "verified")?,
        pause_reason: row.opt_text(T, "pause_reason")?,
        pause_ticket: row.opt_text(T, "pause_ticket")?,
        last_tested_at: opt_time(row, T, "last_tested_at")?,
        last_test_success: row.opt_boolean(T, "last_test_success")?,
        consecutive_failures: unsigned(
            row,
            T,
            "consecutive_failures",
            row.int(T, "consecutive_failures")?,
        )?,
        flapping: row.boolean(T, "flapping")?,
        created_at: req_time(row, T, "created_at")?,
        created_by: parse(row, T, "created_by", row.text(T, "created_by")?.parse())?,
        modified_at: req_time(row, T, "modified_at")?,
        modified_by: parse(row, T, "modified_by", row.text(T, "modified_by")?.parse())?,
        version: unsigned(row, T, "version", row.int(T, "version")?)?,
    })
}

/// A health-check record from a row of [`HEALTH_COLUMNS`](super::schema::HEALTH_COLUMNS).
pub(crate) fn health_check(row: &impl RowExt) -> Result<HealthCheckRecord> {
    const T: &str = "health_checks";
    Ok(HealthCheckRecord {
        id: row.uuid(T, "id")?,
        tenant_id: parse(row, T, "tenant_id", row.text(T, "tenant_id")?.parse())?,
        integration_id: parse(
            row,
            T,
            "integration_id",
            IntegrationId::from_uuid(row.uuid(T, "integration_id")?),
        )?,
        checked_at: req_time(row, T, "checked_at")?,
        kind: known(row, T, "kind", CheckKind::parse(&row.text(T, "kind")?))?,
        status: known(
            row,
            T,
            "status",
            HealthStatus::parse(&row.text(T, "status")?),
        )?,
        failure: row
            .opt_json(T, "failure")?
            .map(|f| from_json(row, T, "failure", f))
            .transpose()?,
        latency_ms: row
            .opt_int(T, "latency_ms")?
            .map(|l| unsigned(row, T, "latency_ms", l))
            .transpose()?,
        message: row.text(T, "message")?,
        details: from_json(row, T, "details", row.json(T, "details")?)?,
    })
}

/// An audit entry from a row of [`AUDIT_COLUMNS`](super::schema::AUDIT_COLUMNS).
pub(crate) fn audit_entry(row: &impl RowExt) -> Result<AuditEntry> {
    const T: &str = "audit_logs";
    let record = AuditRecord {
        id: row.uuid(T, "id")?,
        tenant_id: parse(row, T, "tenant_id", row.text(T, "tenant_id")?.parse())?,
        integration_id: row
            .opt_uuid(T, "integration_id")?
            .map(|id| parse(row, T, "integration_id", IntegrationId::from_uuid(id)))
            .transpose()?,
        actor: parse(row, T, "actor", row.text(T, "actor")?.parse())?,
        action: known(
            row,
            T,
            "action",
            AuditAction::parse(&row.text(T, "action")?),
        )?,
        at: req_time(row, T, "at")?,
        changes: parse(
            row,
            T,
            "changes",
            serde_json::from_str(&row.text(T, "changes")?),
        )?,
        reason: row.opt_text(T, "reason")?,
        ticket: row.opt_text(T, "ticket")?,
        approver: row
            .opt_text(T, "approver")?
            .map(|a| parse(row, T, "approver", a.parse()))
            .transpose()?,
    };
    Ok(AuditEntry {
        record,
        sequence: unsigned(row, T, "sequence", row.int(T, "sequence")?)?,
        prev_hash: row.text(T, "prev_hash")?,
        hash: row.text(T, "hash")?,
        key_id: row.opt_text(T, "key_id")?,
    })
}

/// The stored `(sequence, hash)` of a tenant's last audit entry.
pub(crate) fn audit_head(row: &impl RowExt) -> Result<(u64, String)> {
    const T: &str = "audit_logs";
    Ok((
        unsigned(row, T, "sequence", row.int(T, "sequence")?)?,
        row.text(T, "hash")?,
    ))
}

/// An outbox entry from a row of [`OUTBOX_COLUMNS`](super::schema::OUTBOX_COLUMNS).
pub(crate) fn outbox_entry(row: &impl RowExt) -> Result<OutboxEntry> {
    const T: &str = "outbox";
    let envelope = EventEnvelope {
        id: row.uuid(T, "event_id")?,
        event_type: known(
            row,
            T,
            "event_type",
            EventType::parse(&row.text(T, "event_type")?),
        )?,
        tenant_id: parse(row, T, "tenant_id", row.text(T, "tenant_id")?.parse())?,
        integration_id: parse(
            row,
            T,
            "integration_id",
            IntegrationId::from_uuid(row.uuid(T, "integration_id")?),
        )?,
        version: unsigned(row, T, "version", row.int(T, "version")?)?,
        occurred_at: req_time(row, T, "occurred_at")?,
        data: row.json(T, "data")?,
    };
    Ok(OutboxEntry {
        envelope,
        attempts: unsigned(row, T, "attempts", row.int(T, "attempts")?)?,
        next_attempt_at: req_time(row, T, "next_attempt_at")?,
        lease_owner: row.opt_text(T, "lease_owner")?,
        lease_until: opt_time(row, T, "lease_until")?,
        last_error: row.opt_text(T, "last_error")?,
    })
}

/// A plugin row.
pub(crate) fn plugin(row: &impl RowExt) -> Result<PluginMetadata> {
    const T: &str = "plugin_metadata";
    let descriptor = from_json(row, T, "descriptor", row.json(T, "descriptor")?)?;
    let discovered_at = req_time(row, T, "discovered_at")?;
    let reason = || {
        row.opt_text(T, "state_reason")
            .map(Option::unwrap_or_default)
    };
    let state = match row.text(T, "state")?.as_str() {
        "ready" => PluginState::Ready,
        "quarantined" => PluginState::Quarantined { reason: reason()? },
        // `disabled`, and a state a newer version wrote: not serving is the safe reading.
        _ => PluginState::Disabled { reason: reason()? },
    };
    let mut plugin = PluginMetadata::builtin(descriptor, discovered_at).with_state(state);
    plugin.path = row.opt_text(T, "path")?;
    plugin.sha256 = row.opt_text(T, "sha256")?;
    Ok(plugin)
}

/// The version and deletion time of an integration row (for conflict reports).
/// An audit checkpoint from a row of `tenant_id, sequence, hash`.
pub(crate) fn checkpoint(row: &impl RowExt) -> Result<pathops_core::audit::AuditCheckpoint> {
    const T: &str = "audit_checkpoints";
    Ok(pathops_core::audit::AuditCheckpoint {
        tenant_id: parse(row, T, "tenant_id", row.text(T, "tenant_id")?.parse())?,
        sequence: unsigned(row, T, "sequence", row.int(T, "sequence")?)?,
        hash: row.text(T, "hash")?,
    })
}

pub(crate) fn version_and_deleted(row: &impl RowExt) -> Result<(u64, bool)> {
    const T: &str = "integrations";
    Ok((
        unsigned(row, T, "version", row.int(T, "version")?)?,
        row.opt_int(T, "deleted_at")?.is_some(),
    ))
}

/// A row of `id, tenant_id, next_check_at` (a leased health check).
pub(crate) fn due_check(row: &impl RowExt) -> Result<pathops_core::store::DueCheck> {
    const T: &str = "integrations";
    let id = row.uuid(T, "id")?;
    let integration_id = parse(row, T, "id", IntegrationId::from_uuid(id))?;
    let tenant_id = parse(
        row,
        T,
        "tenant_id",
        row.text(T, "tenant_id")?.parse::<pathops_core::TenantId>(),
    )?;
    Ok(pathops_core::store::DueCheck {
        tenant_id,
        integration_id,
        next_due: opt_time(row, T, "next_check_at")?,
    })
}
