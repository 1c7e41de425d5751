//! The store conformance suite: every [`CatalogStore`] backend runs these checks unchanged.
//!
//! Each check is a `pub async fn(Arc<dyn CatalogStore>)` that gets a fresh, empty store and
//! panics when the backend breaks the contract. A backend runs the whole list from its `tests/`
//! with [`store_conformance_suite!`](crate::store_conformance_suite), which generates one
//! `#[tokio::test]` per check (on a multi-threaded runtime) from a [`StoreFactory`]:
//!
//! ```text
//! // pathops-store/tests/memory.rs
//! use pathops_testkit::store_suite::{StoreFactory, StoreFixture};
//!
//! struct Memory;
//!
//! #[async_trait::async_trait]
//! impl StoreFactory for Memory {
//!     async fn open(&self) -> Option<StoreFixture> {
//!         Some(StoreFixture::new(std::sync::Arc::new(pathops_store::MemoryStore::new())))
//!     }
//! }
//!
//! pathops_testkit::store_conformance_suite!(Memory);
//! ```
//!
//! A factory for a service that is not configured (no `PATHOPS_TEST_POSTGRES_URL`) prints
//! `skipping: …` and returns `None`: the skip is visible, never silent.
//!
//! | module | what it checks |
//! |---|---|
//! | [`crud`] | create, get, update, soft delete, versions, name uniqueness, unicode names |
//! | [`list`] | filters, `(name, id)` order, limits, keyset paging, cursor misuse |
//! | [`tenancy`] | no call reads or writes another tenant's rows (plus a property test) |
//! | [`atomicity`] | a failing mutation leaves no row, audit entry, event or health row |
//! | [`evidence`] | health history and summaries, audit queries and chains |
//! | [`outbox`] | leases, acknowledgements, retries with backoff, dead events |
//! | [`plugins`] | plugin metadata upsert and list |
//! | [`concurrency`] | concurrent writers: one winner per version, unique names, intact chains |
//! | [`fidelity`] | every accepted value reads back equal; a row damaged in the database fails only itself |
//!
//! Checks of what happens when the database itself is edited need to run SQL behind the
//! store's back: a SQL backend's factory passes [`StoreFixture::with_raw_sql`], and those
//! checks print `skipping: …` for a backend without it (the memory store has no rows to
//! damage).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use pathops_core::CatalogStore;

pub mod atomicity;
pub mod chain;
pub mod concurrency;
pub mod crud;
pub mod evidence;
pub mod fidelity;
pub mod list;
pub mod outbox;
pub mod plugins;
pub mod tenancy;

mod support;

/// Opens fresh, empty stores of one backend for the checks.
#[async_trait::async_trait]
pub trait StoreFactory: Send + Sync {
    /// A fresh, empty store, or `None` (after printing `skipping: <why>`) when the backend is
    /// not available in this environment.
    async fn open(&self) -> Option<StoreFixture>;
}

/// Runs one SQL statement on the store's own database, behind the store's back, and panics
/// if it fails (see [`StoreFixture::with_raw_sql`]).
pub type RawSql = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// A store opened for one check, with what to do once the check is over.
pub struct StoreFixture {
    store: Arc<dyn CatalogStore>,
    cleanup: Option<BoxFuture<'static, ()>>,
    raw_sql: Option<RawSql>,
}

impl std::fmt::Debug for StoreFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFixture")
            .field("store", &self.store)
            .field("cleanup", &self.cleanup.is_some())
            .field("raw_sql", &self.raw_sql.is_some())
            .finish()
    }
}

impl StoreFixture {
    /// A store that needs no cleanup.
    pub fn new(store: Arc<dyn CatalogStore>) -> Self {
        Self {
            store,
            cleanup: None,
            raw_sql: None,
        }
    }

    /// How to run SQL on the store's database directly (its tables unqualified, as the
    /// store's connections see them), for the checks that damage rows.
    pub fn with_raw_sql(mut self, raw_sql: RawSql) -> Self {
        self.raw_sql = Some(raw_sql);
        self
    }

    /// Runs `cleanup` after the check, whether it passed or panicked (dropping a database
    /// schema, removing a file, …).
    pub fn with_cleanup(mut self, cleanup: BoxFuture<'static, ()>) -> Self {
        self.cleanup = Some(cleanup);
        self
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn CatalogStore> {
        self.store.clone()
    }
}

/// Runs one check against a fresh store of `factory`, cleans up, then re-raises a failure.
pub async fn run<F, C>(factory: F, check: C)
where
    F: StoreFactory,
    C: FnOnce(Arc<dyn CatalogStore>) -> BoxFuture<'static, ()>,
{
    let Some(fixture) = factory.open().await else {
        return;
    };
    let StoreFixture {
        store,
        cleanup,
        raw_sql: _,
    } = fixture;
    let outcome = AssertUnwindSafe(check(store.clone())).catch_unwind().await;
    drop(store);
    if let Some(cleanup) = cleanup {
        cleanup.await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs one check that edits the database directly; a backend without
/// [`StoreFixture::with_raw_sql`] prints `skipping: …`.
pub async fn run_raw<F, C>(factory: F, check: C)
where
    F: StoreFactory,
    C: FnOnce(Arc<dyn CatalogStore>, RawSql) -> BoxFuture<'static, ()>,
{
    let Some(fixture) = factory.open().await else {
        return;
    };
    let StoreFixture {
        store,
        cleanup,
        raw_sql,
    } = fixture;
    let outcome = match raw_sql {
        Some(raw_sql) => {
            AssertUnwindSafe(check(store.clone(), raw_sql))
                .catch_unwind()
                .await
        }
        None => {
            eprintln!(
                "skipping: the {} store has no raw SQL access",
                store.backend()
            );
            Ok(())
        }
    };
    drop(store);
    if let Some(cleanup) = cleanup {
        cleanup.await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Generates one `#[tokio::test]` (multi-threaded runtime) per conformance check, each opening a
/// fresh store from `$factory` (an expression whose type implements [`StoreFactory`]).
///
/// The calling crate needs `tokio` (features `macros`, `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! store_conformance_suite {
    ($factory:expr) => {
        $crate::store_conformance_suite!(@checks $factory;
            crud::create_then_get_round_trips_every_field,
            crud::duplicate_names_are_refused_per_tenant_among_live_rows,
            crud::get_of_a_missing_integration_is_not_found,
            crud::update_bumps_the_version_and_a_stale_version_conflicts,
            crud::renaming_onto_a_live_name_is_refused,
            crud::soft_delete_hides_the_row_from_every_read,
            crud::updating_a_missing_integration_is_not_found,
            crud::an_inconsistent_mutation_is_refused_before_writing,
            crud::unicode_and_maximum_length_names_round_trip,
            list::lists_are_ordered_by_name_then_id_and_paged,
            list::every_filter_narrows_the_list,
            list::limits_default_to_50_and_stop_at_500,
            list::pages_never_repeat_or_skip_rows_while_rows_are_inserted,
            list::foreign_and_tampered_cursors_are_refused,
            tenancy::no_call_crosses_tenants,
            tenancy::random_operations_never_leak_across_tenants,
            atomicity::a_failed_audit_insert_leaves_no_trace,
            atomicity::a_failed_update_leaves_the_row_and_outbox_untouched,
            evidence::health_history_reads_a_range_newest_first,
            evidence::health_summary_matches_the_shared_computation,
            evidence::audit_reads_by_integration_actor_range_and_sequence,
            evidence::audit_chains_are_per_tenant_and_verify,
            outbox::claims_lease_the_oldest_due_events_and_count_attempts,
            outbox::claims_keep_each_integrations_order,
            outbox::releases_deliver_retry_with_backoff_and_bury,
            outbox::releasing_an_unknown_event_is_not_found,
            plugins::plugins_upsert_by_id_and_list_in_order,
            plugins::plugins_keep_path_checksum_and_state,
            concurrency::concurrent_updates_at_one_version_have_exactly_one_winner,
            concurrency::concurrent_creates_of_one_name_have_exactly_one_winner,
            concurrency::concurrent_writers_keep_the_audit_chain_intact,
            concurrency::concurrent_claimers_never_lease_the_same_event,
            fidelity::every_accepted_value_reads_back_equal,
            chain::a_check_without_transition_leaves_version_and_audit,
            chain::a_threshold_crossing_writes_exactly_one_audit_row,
            chain::key_rotation_verifies_across_the_boundary,
            chain::archived_then_pruned_chains_still_verify,
            chain::a_flapping_integration_emits_one_flapping_event,
            chain::summaries_equal_the_brute_force_computation,
            chain::a_stale_health_write_conflicts_and_writes_nothing,
            chain::retention_by_count_keeps_the_newest_rows,
        );
        $crate::store_conformance_suite!(@raw $factory;
            fidelity::a_row_corrupted_in_the_database_fails_only_itself,
            chain::truncation_is_detected_against_an_anchor,
            chain::a_rehashed_row_is_detected_with_the_key,
            chain::tampering_in_the_database_is_found_where_it_starts,
        );
    };
    (@raw $factory:expr; $($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                $crate::store_suite::run_raw($factory, |store, raw_sql| {
                    ::std::boxed::Box::pin($crate::store_suite::$module::$check(store, raw_sql))
                })
                .await;
            }
        )*
    };
    (@checks $factory:expr; $($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                $crate::store_suite::run($factory, |store| {
                    ::std::boxed::Box::pin($crate::store_suite::$module::$check(store))
                })
                .await;
            }
        )*
    };
}
