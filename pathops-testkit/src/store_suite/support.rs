//! Shared helpers of the conformance checks.

use std::time::Duration;

use pathops_core::event::{OutboxClaim, OutboxEntry};
use pathops_core::{
    AuditAction, CatalogStore, EventType, Integration, IntegrationStatus, ListFilter, ListQuery,
    MutationOutcome, Result,
};
use time::OffsetDateTime;

use crate::clock::ManualClock;
use crate::fixtures::{IntegrationBuilder, create_mutation, update_mutation};

pub(crate) const ACME: &str = "acme";
pub(crate) const GLOBEX: &str = "globex";

/// `minutes` after the default test start.
pub(crate) fn at(minutes: i64) -> OffsetDateTime {
    ManualClock::DEFAULT_START + time::Duration::minutes(minutes)
}

/// A draft of `tenant` named `name`.
pub(crate) fn draft(tenant: &str, name: &str) -> Integration {
    IntegrationBuilder::new(tenant, name).build()
}

/// Creates `integration` and returns it as stored.
pub(crate) async fn create(store: &dyn CatalogStore, integration: Integration) -> Integration {
    let name = integration.name.clone();
    store
        .apply(create_mutation(integration))
        .await
        .unwrap_or_else(|e| panic!("creating {name:?} failed: {e}"))
        .integration
}

/// Writes `current` changed by `edit` over its version.
pub(crate) async fn update(
    store: &dyn CatalogStore,
    current: &Integration,
    edit: impl FnOnce(&mut Integration),
) -> Result<MutationOutcome> {
    let mut next = current.clone();
    edit(&mut next);
    next.modified_at = current.modified_at + time::Duration::seconds(1);
    let at = next.modified_at;
    store
        .apply(update_mutation(
            next,
            current.version,
            AuditAction::Updated,
            at,
        ))
        .await
}

/// Soft-deletes `current` at its version.
pub(crate) async fn delete(
    store: &dyn CatalogStore,
    current: &Integration,
) -> Result<MutationOutcome> {
    let mut next = current.clone();
    next.status = IntegrationStatus::Deleted;
    next.modified_at = current.modified_at + time::Duration::seconds(1);
    let at = next.modified_at;
    let mut m = update_mutation(next, current.version, AuditAction::Deleted, at);
    for e in &mut m.events {
        e.event_type = EventType::Deleted;
    }
    store.apply(m).await
}

/// Every integration `filter` matches, paging with `page_size`.
pub(crate) async fn list_all(
    store: &dyn CatalogStore,
    tenant: &str,
    filter: ListFilter,
    page_size: u32,
) -> Vec<Integration> {
    let tenant = crate::fixtures::tenant(tenant);
    let mut query = ListQuery::new(filter).with_limit(page_size);
    let mut out = Vec::new();
    loop {
        let page = store.list(&tenant, &query).await.expect("list");
        assert!(
            page.items.len() <= page_size as usize,
            "page larger than its limit"
        );
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => query = query.after(c),
            None => return out,
        }
    }
}

/// Names of `items`, in order.
pub(crate) fn names(items: &[Integration]) -> Vec<String> {
    items.iter().map(|i| i.name.to_string()).collect()
}

/// Leases every due event at `now` (for assertions on what the outbox holds).
pub(crate) async fn drain_outbox(
    store: &dyn CatalogStore,
    now: OffsetDateTime,
) -> Vec<OutboxEntry> {
    store
        .claim_outbox(&OutboxClaim {
            owner: "probe".into(),
            limit: 10_000,
            now,
            lease: Duration::from_secs(60),
        })
        .await
        .expect("claim")
}

/// Far enough in the future that every event is due.
pub(crate) fn far_future() -> OffsetDateTime {
    time::macros::datetime!(2100-01-01 00:00 UTC)
}
