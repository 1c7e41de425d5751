//! Table and column names, and the versioned migrations that create them.
//!
//! Every time is a `BIGINT` of microseconds since the Unix epoch (UTC), so values round-trip
//! exactly and compare the same way on every backend. Ids are `UUID` on PostgreSQL and 16-byte
//! `BLOB`s on SQLite (both ordered bytewise, like [`uuid::Uuid`]); JSON is `JSONB` on PostgreSQL
//! and `TEXT` on SQLite; names use the `C` collation on PostgreSQL so that they sort by code
//! point, as SQLite's `BINARY` collation and Rust's `str` do.

use sea_query::Iden;

/// `integrations`: one row per integration, soft-deleted ones included (`deleted_at` set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Iden)]
pub(crate) enum Integrations {
    Table,
    Id,
    TenantId,
    Name,
    Description,
    IntegrationType,
    Provider,
    BaseUrl,
    AuthRef,
    Configuration,
    Environment,
    Tags,
    OwnerId,
    Status,
    Verified,
    PauseReason,
    PauseTicket,
    LastTestedAt,
    LastTestSuccess,
    ConsecutiveFailures,
    CreatedAt,
    CreatedBy,
    ModifiedAt,
    ModifiedBy,
    Version,
    DeletedAt,
    /// When the health monitor next checks it (NULL: never scheduled). Migration 2.
    NextCheckAt,
    /// The monitor holding its check lease. Migration 2.
    CheckLeaseOwner,
    /// Until when. Migration 2.
    CheckLeaseUntil,
    /// Whether its health flaps. Migration 3.
    Flapping,
}

/// Every column of `integrations` read back into an [`Integration`](pathops_core::Integration),
/// in select order.
pub(crate) const INTEGRATION_COLUMNS: [Integrations; 25] = [
    Integrations::Id,
    Integrations::TenantId,
    Integrations::Name,
    Integrations::Description,
    Integrations::IntegrationType,
    Integrations::Provider,
    Integrations::BaseUrl,
    Integrations::AuthRef,
    Integrations::Configuration,
    Integrations::Environment,
    Integrations::Tags,
    Integrations::OwnerId,
    Integrations::Status,
    Integrations::Verified,
    Integrations::PauseReason,
    Integrations::PauseTicket,
    Integrations::LastTestedAt,
    Integrations::LastTestSuccess,
    Integrations::ConsecutiveFailures,
    Integrations::Flapping,
    Integrations::CreatedAt,
    Integrations::CreatedBy,
    Integrations::ModifiedAt,
    Integrations::ModifiedBy,
    Integrations::Version,
];

/// `integration_tags`: one row per (integration, tag), for the tag filter.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum IntegrationTags {
    Table,
    IntegrationId,
    TenantId,
    Tag,
}

/// `health_checks`: one row per test or check.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum HealthChecks {
    Table,
    Id,
    TenantId,
    IntegrationId,
    CheckedAt,
    Kind,
    Status,
    FailureCode,
    Failure,
    LatencyMs,
    Message,
    Details,
    /// Whether the tool was reachable (NULL: not exercised). Migration 3.
    ReachOk,
    /// Whether the credential was accepted (NULL: not exercised). Migration 3.
    AuthOk,
    /// Whether a webhook delivery came back (NULL: not exercised). Migration 3.
    WebhookOk,
}

/// The columns a `health_checks` row is inserted with.
pub(crate) const HEALTH_WRITE_COLUMNS: [HealthChecks; 14] = [
    HealthChecks::Id,
    HealthChecks::TenantId,
    HealthChecks::IntegrationId,
    HealthChecks::CheckedAt,
    HealthChecks::Kind,
    HealthChecks::Status,
    HealthChecks::FailureCode,
    HealthChecks::Failure,
    HealthChecks::LatencyMs,
    HealthChecks::Message,
    HealthChecks::Details,
    HealthChecks::ReachOk,
    HealthChecks::AuthOk,
    HealthChecks::WebhookOk,
];

/// Every column of `health_checks` read back into a record, in select order: the written
/// columns without the series, which only summaries read.
pub(crate) const HEALTH_COLUMNS: [HealthChecks; 11] = {
    let mut out = [HealthChecks::Id; 11];
    let mut k = 0;
    while k < out.len() {
        out[k] = HEALTH_WRITE_COLUMNS[k];
        k += 1;
    }
    out
};

/// `audit_logs`: append-only, one hash chain per tenant.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum AuditLogs {
    Table,
    Id,
    TenantId,
    Sequence,
    IntegrationId,
    Actor,
    Action,
    At,
    Changes,
    Reason,
    Ticket,
    Approver,
    PrevHash,
    Hash,
    /// The key that sealed the entry (NULL: unkeyed). Migration 3.
    KeyId,
}

/// `audit_checkpoints`: where each tenant's pruned chain continues. Migration 3.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum AuditCheckpoints {
    Table,
    TenantId,
    Sequence,
    Hash,
    PrunedAt,
}

/// Every column of `audit_logs`, in select order.
pub(crate) const AUDIT_COLUMNS: [AuditLogs; 14] = [
    AuditLogs::Id,
    AuditLogs::TenantId,
    AuditLogs::Sequence,
    AuditLogs::IntegrationId,
    AuditLogs::Actor,
    AuditLogs::Action,
    AuditLogs::At,
    AuditLogs::Changes,
    AuditLogs::Reason,
    AuditLogs::Ticket,
    AuditLogs::Approver,
    AuditLogs::PrevHash,
    AuditLogs::Hash,
    AuditLogs::KeyId,
];

/// `outbox`: events waiting for delivery, with their delivery state.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum Outbox {
    Table,
    EventId,
    TenantId,
    IntegrationId,
    EventType,
    Version,
    OccurredAt,
    Data,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    DeliveredAt,
    DeadAt,
}

/// The columns of `outbox` read back into an [`OutboxEntry`](pathops_core::event::OutboxEntry).
pub(crate) const OUTBOX_COLUMNS: [Outbox; 12] = [
    Outbox::EventId,
    Outbox::TenantId,
    Outbox::IntegrationId,
    Outbox::EventType,
    Outbox::Version,
    Outbox::OccurredAt,
    Outbox::Data,
    Outbox::Attempts,
    Outbox::NextAttemptAt,
    Outbox::LeaseOwner,
    Outbox::LeaseUntil,
    Outbox::LastError,
];

/// `plugin_metadata`: what each connector declared.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum PluginMetadata {
    Table,
    Id,
    Provider,
    IntegrationType,
    Version,
    Descriptor,
    DiscoveredAt,
    Path,
    Sha256,
    State,
    StateReason,
}

/// `pathops_migrations`: the schema versions applied.
#[derive(Debug, Clone, Copy, Iden)]
pub(crate) enum PathopsMigrations {
    Table,
    Version,
    Name,
    AppliedAt,
    Checksum,
}

/// The column types that differ between backends, substituted into the DDL templates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DdlTypes {
    /// `{uuid}`: `UUID` or `BLOB`.
    pub(crate) uuid: &'static str,
    /// `{json}`: `JSONB` or `TEXT`.
    pub(crate) json: &'static str,
    /// `{name}`: a text type ordered by code point.
    pub(crate) name: &'static str,
}

/// One schema version.
#[derive(Debug)]
pub(crate) struct Migration {
    /// Applied in increasing order; recorded in `pathops_migrations`.
    pub(crate) version: i64,
    /// What it does.
    pub(crate) name: &'static str,
    /// DDL templates shared by every backend.
    pub(crate) shared: &'static [&'static str],
}

impl Migration {
    /// The shared statements with the backend's types.
    /// The SHA-256 (hex) of every statement this migration runs on a backend: its shared
    /// templates rendered with `types`, then the backend's `extra` statements. Recorded when
    /// the migration is applied, compared on every open, so a released migration edited in
    /// the code is found instead of silently diverging from the databases it built.
    pub(crate) fn checksum(&self, types: DdlTypes, extra: &[&str]) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for statement in self
            .statements(types)
            .chain(extra.iter().map(|s| (*s).to_owned()))
        {
            hash.update(statement.as_bytes());
            hash.update(b"\n;\n");
        }
        const_hex::encode(hash.finalize())
    }

    pub(crate) fn statements(&self, types: DdlTypes) -> impl Iterator<Item = String> + '_ {
        self.shared.iter().map(move |s| {
            s.replace("{uuid}", types.uuid)
                .replace("{json}", types.json)
                .replace("{name}", types.name)
        })
    }
}

/// The table every other migration is recorded in (created before anything else).
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS pathops_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Every migration, oldest first. Never edit a released one: add a new version.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "catalog tables",
        shared: &[
            "CREATE TABLE integrations (
            id {uuid} PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            name {name} NOT NULL,
            description TEXT,
            integration_type TEXT NOT NULL,
            provider TEXT NOT NULL,
            base_url TEXT NOT NULL,
            auth_ref TEXT,
            configuration {json} NOT NULL,
            environment TEXT,
            tags {json} NOT NULL,
            owner_id TEXT,
            status TEXT NOT NULL,
            verified BOOLEAN NOT NULL,
            pause_reason TEXT,
            pause_ticket TEXT,
            last_tested_at BIGINT,
            last_test_success BOOLEAN,
            consecutive_failures BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            created_by TEXT NOT NULL,
            modified_at BIGINT NOT NULL,
            modified_by TEXT NOT NULL,
            version BIGINT NOT NULL,
            deleted_at BIGINT
        )",
            "CREATE INDEX integrations_tenant_type ON integrations (tenant_id, integration_type)",
            "CREATE UNIQUE INDEX integrations_tenant_live_name ON integrations (tenant_id, name)
            WHERE deleted_at IS NULL",
            "CREATE INDEX integrations_tenant_live_order ON integrations (tenant_id, name, id)
            WHERE deleted_at IS NULL",
            "CREATE TABLE integration_tags (
            integration_id {uuid} NOT NULL,
            tenant_id TEXT NOT NULL,
            tag TEXT NOT NULL,
            PRIMARY KEY (integration_id, tag)
        )",
            "CREATE INDEX integration_tags_tenant_tag ON integration_tags (tenant_id, tag, integration_id)",
            "CREATE TABLE health_checks (
            id {uuid} PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            integration_id {uuid} NOT NULL,
            checked_at BIGINT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            failure_code TEXT,
            failure {json},
            latency_ms BIGINT,
            message TEXT NOT NULL,
            details {json} NOT NULL
        )",
            "CREATE INDEX health_checks_integration_time ON health_checks (integration_id, checked_at)",
            "CREATE TABLE audit_logs (
            id {uuid} PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            integration_id {uuid},
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            at BIGINT NOT NULL,
            changes TEXT NOT NULL,
            reason TEXT,
            ticket TEXT,
            approver TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )",
            "CREATE UNIQUE INDEX audit_logs_tenant_sequence ON audit_logs (tenant_id, sequence)",
            "CREATE INDEX audit_logs_tenant_integration ON audit_logs (tenant_id, integration_id, sequence)",
            "CREATE INDEX audit_logs_tenant_actor ON audit_logs (tenant_id, actor, sequence)",
            "CREATE INDEX audit_logs_tenant_at ON audit_logs (tenant_id, at)",
            "CREATE TABLE outbox (
            event_id {uuid} PRIMARY KEY,
            tenant_id TEXT NOT NULL,
            integration_id {uuid} NOT NULL,
            event_type TEXT NOT NULL,
            version BIGINT NOT NULL,
            occurred_at BIGINT NOT NULL,
            data {json} NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt_at BIGINT NOT NULL,
            lease_owner TEXT,
            lease_until BIGINT,
            last_error TEXT,
            delivered_at BIGINT,
            dead_at BIGINT
        )",
            "CREATE INDEX outbox_pending ON outbox (occurred_at, event_id)
            WHERE delivered_at IS NULL AND dead_at IS NULL",
            "CREATE TABLE plugin_metadata (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            integration_type TEXT NOT NULL,
            version TEXT NOT NULL,
            descriptor {json} NOT NULL,
            discovered_at BIGINT NOT NULL
        )",
        ],
    },
    Migration {
        version: 2,
        name: "health check schedule",
        shared: &[
            // The schedule lives beside the entity but is not part of it: catalog writes never
            // touch these columns, so scheduling does not change an integration's version.
            "ALTER TABLE integrations ADD COLUMN next_check_at BIGINT",
            "ALTER TABLE integrations ADD COLUMN check_lease_owner TEXT",
            "ALTER TABLE integrations ADD COLUMN check_lease_until BIGINT",
            "CREATE INDEX integrations_check_due ON integrations (next_check_at, id)
            WHERE deleted_at IS NULL",
            "CREATE INDEX health_checks_time ON health_checks (checked_at, id)",
        ],
    },
    Migration {
        version: 3,
        name: "evidence: health fields apart from edits, keyed audit, checkpoints, series",
        shared: &[
            "ALTER TABLE integrations ADD COLUMN flapping BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE audit_logs ADD COLUMN key_id TEXT",
            "CREATE TABLE audit_checkpoints (
            tenant_id TEXT PRIMARY KEY,
            sequence BIGINT NOT NULL,
            hash TEXT NOT NULL,
            pruned_at BIGINT NOT NULL
        )",
            "ALTER TABLE health_checks ADD COLUMN reach_ok BOOLEAN",
            "ALTER TABLE health_checks ADD COLUMN auth_ok BOOLEAN",
            "ALTER TABLE health_checks ADD COLUMN webhook_ok BOOLEAN",
            // Newest-first reads per integration (history, flap counting, retention by count).
            "CREATE INDEX health_checks_integration_newest ON health_checks (tenant_id, integration_id, checked_at, id)",
        ],
    },
    Migration {
        version: 4,
        name: "outbox order per integration",
        shared: &[
            // Claims look for an earlier pending event of the same integration.
            "CREATE INDEX outbox_pending_integration ON outbox (tenant_id, integration_id, occurred_at, event_id)
            WHERE delivered_at IS NULL AND dead_at IS NULL",
        ],
    },
    Migration {
        version: CHECKSUMS_FROM,
        name: "migration checksums",
        shared: &["ALTER TABLE pathops_migrations ADD COLUMN checksum TEXT"],
    },
    Migration {
        version: 6,
        name: "out-of-process plugins: executable, checksum, state",
        shared: &[
            // NULL for a compiled-in connector.
            "ALTER TABLE plugin_metadata ADD COLUMN path TEXT",
            "ALTER TABLE plugin_metadata ADD COLUMN sha256 TEXT",
            // `ready`, `quarantined` or `disabled`; the reason of the last two.
            "ALTER TABLE plugin_metadata ADD COLUMN state TEXT NOT NULL DEFAULT 'ready'",
            "ALTER TABLE plugin_metadata ADD COLUMN state_reason TEXT",
        ],
    },
];

/// The first schema version whose `pathops_migrations` has a `checksum` column.
pub(crate) const CHECKSUMS_FROM: i64 = 5;

/// The newest schema version this code knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_published_schema_version_is_the_latest_migration() {
        assert_eq!(super::latest_version(), crate::SCHEMA_VERSION);
    }
}
