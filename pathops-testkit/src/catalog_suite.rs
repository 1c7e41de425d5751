//! Conformance suite of the [`Catalog`] service over any [`CatalogStore`].
//!
//! Each check is a `pub async fn` taking a fresh, empty store; [`catalog_conformance_tests!`]
//! generates one `#[tokio::test]` per check for a backend, from the same
//! [`StoreFactory`](crate::store_suite::StoreFactory) the store suite uses:
//!
//! ```text
//! pathops_testkit::store_conformance_suite!(Memory);
//! pathops_testkit::catalog_conformance_tests!(Memory);
//! ```
//!
//! [`catalog_conformance_tests!`]: crate::catalog_conformance_tests

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::catalog::{Catalog, Principal, Scope, VerifyOptions};
use pathops_core::event::OutboxRetryPolicy;
use pathops_core::relay::{BroadcastSink, EventSink, OutboxRelay};
use pathops_core::secret::StaticResolver;
use pathops_core::store::AuditQuery;
use pathops_core::store::{Change, Mutation};
use pathops_core::{
    AuditAction, AuditRecord, AuthRef, BaseUrl, CatalogStore, Clock, ConnectorRegistry, Error,
    EventEnvelope, EventType, FailureCode, HealthPolicy, Integration, IntegrationId,
    IntegrationPatch, IntegrationStatus, ListQuery, NewIntegration, Provider, TimeRange,
};
use tracing::instrument::WithSubscriber;

use crate::clock::ManualClock;
use crate::fixtures::{actor, tenant};
use crate::in_memory::{InMemoryConnector, Outcome};
use crate::logs::LogCapture;

/// The credential the harness's connector accepts and its resolver returns. Checks scan every
/// output for it.
pub const SENTINEL_SECRET: &str = "SENTINEL-catalog-9d41e7";

/// The auth ref of tenant `acme` the harness's resolver knows.
pub const AUTH_REF: &str = "ref://acme/in-memory/token";

/// The auth ref of tenant `globex` the harness's resolver knows (the same secret, so that a
/// check can tell "refused" from "not found").
pub const OTHER_TENANT_AUTH_REF: &str = "ref://globex/in-memory/token";

/// A catalog over `store` with an [`InMemoryConnector`], a [`ManualClock`], a resolver that
/// knows [`AUTH_REF`], and principals of two tenants.
#[derive(Debug)]
pub struct Harness {
    /// The store under test.
    pub store: Arc<dyn CatalogStore>,
    /// The catalog.
    pub catalog: Catalog,
    /// The connector for [`in_memory::provider`](crate::in_memory::provider).
    pub connector: Arc<InMemoryConnector>,
    /// The clock.
    pub clock: Arc<ManualClock>,
    /// `integrations.admin` on tenant `acme`.
    pub admin: Principal,
    /// `integrations.read` on tenant `acme`.
    pub reader: Principal,
    /// No scope on tenant `acme`.
    pub nobody: Principal,
    /// `integrations.admin` on tenant `globex`.
    pub other_tenant: Principal,
}

impl Harness {
    /// A harness with the default policy.
    pub fn new(store: Arc<dyn CatalogStore>) -> Self {
        Self::with_policy(store, HealthPolicy::default())
    }

    /// A harness with `policy`.
    pub fn with_policy(store: Arc<dyn CatalogStore>, policy: HealthPolicy) -> Self {
        let connector = Arc::new(
            InMemoryConnector::builder()
                .with_credential(SENTINEL_SECRET)
                .build(),
        );
        let mut registry = ConnectorRegistry::new();
        registry
            .register(connector.clone())
            .expect("first registration");
        let clock = Arc::new(ManualClock::default());
        let secrets = StaticResolver::new()
            .with(AUTH_REF.parse().expect("valid ref"), SENTINEL_SECRET)
            .with(
                OTHER_TENANT_AUTH_REF.parse().expect("valid ref"),
                SENTINEL_SECRET,
            );
        let catalog = Catalog::builder(store.clone())
            .with_connectors(registry)
            .with_secrets(Arc::new(secrets))
            .with_clock(clock.clone())
            .with_policy(policy)
            .with_check_timeout(Duration::from_secs(5))
            .build()
            .expect("valid catalog configuration");
        Self {
            store,
            catalog,
            connector,
            clock,
            admin: Principal::admin(tenant("acme"), actor("alice")),
            reader: Principal::reader(tenant("acme"), actor("rita")),
            nobody: Principal::new(tenant("acme"), actor("nobody"), []),
            other_tenant: Principal::admin(tenant("globex"), actor("gina")),
        }
    }

    /// Input for an in-memory integration of tenant `acme` named `name`, using [`AUTH_REF`].
    pub fn input(name: &str) -> NewIntegration {
        Self::input_with_ref(name, AUTH_REF)
    }

    /// Input for an in-memory integration of tenant `globex` named `name`, using
    /// [`OTHER_TENANT_AUTH_REF`].
    pub fn other_tenant_input(name: &str) -> NewIntegration {
        Self::input_with_ref(name, OTHER_TENANT_AUTH_REF)
    }

    /// Input for an in-memory integration named `name` holding `auth_ref`.
    pub fn input_with_ref(name: &str, auth_ref: &str) -> NewIntegration {
        NewIntegration::builder(
            name,
            crate::in_memory::provider(),
            "https://tool.example.test",
        )
        .with_auth_ref(auth_ref)
        .build()
        .expect("valid input")
    }

    /// Creates `name` for `acme` and tests, pauses and resumes it through the catalog: an audit
    /// trail of several entries of different actions.
    pub async fn audited_integration(&self, name: &str) -> Integration {
        let c = &self.catalog;
        let i = c
            .create(&self.admin, Self::input(name), true)
            .await
            .expect("create");
        c.test_connection(&self.admin, i.id).await.expect("test");
        c.pause(&self.admin, i.id, "freeze", None)
            .await
            .expect("pause");
        c.resume(&self.admin, i.id).await.expect("resume");
        i
    }

    /// Every event in the outbox, delivered through a relay to a broadcast sink.
    pub async fn drain_events(&self) -> Vec<EventEnvelope> {
        let sink = BroadcastSink::new(10_000);
        let mut rx = sink.subscribe();
        let relay = OutboxRelay::new(self.store.clone(), vec![Arc::new(sink)], "drain")
            .with_clock(self.clock.clone());
        while relay.relay_once().await.expect("relay pass").claimed > 0 {}
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            out.push(e);
        }
        out
    }
}

fn is_permission_denied(r: &Error, scope: Scope) -> bool {
    matches!(r, Error::PermissionDenied { scope: s } if s == scope.as_str())
}

/// Every operation checks its scope: readers cannot change anything, principals without a
/// scope cannot read; the error names the missing scope.
pub async fn scopes_are_enforced_for_every_operation(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("scoped"), true)
        .await
        .unwrap();
    let id = i.id;
    let admin = Scope::IntegrationsAdmin;
    let read = Scope::IntegrationsRead;
    let patch = IntegrationPatch {
        tags: Some(pathops_core::Tags::new(["x"]).unwrap()),
        ..Default::default()
    };
    let r = &h.reader;
    let denied_for_reader = [
        c.create(r, Harness::input("x"), false).await.err(),
        c.update(r, id, i.version, &patch).await.err(),
        c.delete(r, id, i.version).await.err(),
        c.submit_for_verification(r, id).await.err(),
        c.test_connection(r, id).await.err(),
        c.check_health(r, id).await.err(),
        c.activate(r, id).await.err(),
        c.pause(r, id, "maintenance", None).await.err(),
        c.resume(r, id).await.err(),
        c.discover_plugins(r).await.err(),
    ];
    for (n, e) in denied_for_reader.iter().enumerate() {
        let e = e
            .as_ref()
            .unwrap_or_else(|| panic!("reader operation {n} was allowed"));
        assert!(is_permission_denied(e, admin), "operation {n}: {e}");
    }
    let n = &h.nobody;
    let denied_for_nobody = [
        c.get(n, id).await.err(),
        c.list(n, &ListQuery::default()).await.err(),
        c.list_by_type(n, pathops_core::IntegrationType::Scm, None, None)
            .await
            .err(),
        c.health(n, id, TimeRange::all(), 10).await.err(),
        c.audit(n, id).await.err(),
        c.verify_audit_chain(n, &VerifyOptions::default())
            .await
            .err(),
    ];
    for (k, e) in denied_for_nobody.iter().enumerate() {
        let e = e
            .as_ref()
            .unwrap_or_else(|| panic!("read operation {k} was allowed"));
        assert!(is_permission_denied(e, read), "read operation {k}: {e}");
    }
    // Recording evidence obtained elsewhere needs integrations.system: an admin could
    // otherwise activate an integration nothing ever contacted.
    let kind = pathops_core::health::CheckKind::HealthCheck;
    let fabricated = || pathops_core::CheckResult::passed(Duration::ZERO, "trust me");
    let system = Scope::IntegrationsSystem;
    for p in [r, &h.admin] {
        let e = c
            .record_health(p, id, kind, fabricated())
            .await
            .unwrap_err();
        assert!(is_permission_denied(&e, system), "record_health: {e}");
        let e = c.record_skipped(p, id, kind, "offline").await.unwrap_err();
        assert!(is_permission_denied(&e, system), "record_skipped: {e}");
    }
    // Readers can read.
    assert_eq!(c.get(r, id).await.unwrap().id, id);
    assert_eq!(
        c.list(r, &ListQuery::default()).await.unwrap().items.len(),
        1
    );
    // Nothing changed: still version 1, no call reached the connector.
    assert_eq!(c.get(&h.admin, id).await.unwrap().version, 1);
    assert!(h.connector.calls().is_empty());
    // A trusted component may record.
    let monitor = Principal::system(tenant("acme"), actor("system:monitor"));
    let recorded = c
        .record_health(&monitor, id, kind, fabricated())
        .await
        .unwrap();
    assert_eq!(recorded.integration.status, IntegrationStatus::Active);
}

/// A principal reaches only its own tenant: another tenant's integrations are not found,
/// not listed, and cannot be changed or tested.
pub async fn the_principals_tenant_is_the_only_one_reachable(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let mine = c
        .create(&h.admin, Harness::input("mine"), true)
        .await
        .unwrap();
    let theirs = c
        .create(&h.other_tenant, Harness::other_tenant_input("theirs"), true)
        .await
        .unwrap();
    fn not_found<T>(r: Result<T, Error>) -> bool {
        matches!(r, Err(Error::NotFound { .. }))
    }
    assert!(not_found(c.get(&h.admin, theirs.id).await));
    assert!(not_found(
        c.update(
            &h.admin,
            theirs.id,
            1,
            &IntegrationPatch {
                name: Some("x".parse().unwrap()),
                ..Default::default()
            }
        )
        .await
    ));
    assert!(not_found(c.delete(&h.admin, theirs.id, 1).await));
    assert!(not_found(c.test_connection(&h.admin, theirs.id).await));
    assert!(not_found(c.pause(&h.admin, theirs.id, "r", None).await));
    assert!(not_found(
        c.health(&h.admin, theirs.id, TimeRange::all(), 5).await
    ));
    let listed = c.list(&h.admin, &ListQuery::default()).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    assert!(c.audit(&h.admin, theirs.id).await.unwrap().is_empty());
    // The other tenant's integration is untouched and was never contacted.
    assert_eq!(c.get(&h.other_tenant, theirs.id).await.unwrap().version, 1);
    assert!(h.connector.calls().is_empty());
}

/// A reference to another tenant's secret is refused when it is written (create, update, a
/// configuration reference) with a validation error naming the field, and when it is resolved
/// (a row written before the policy existed): the check fails `auth_ref_denied`, the connector
/// is never called and nothing is resolved. The tenant's own reference works throughout.
pub async fn another_tenants_auth_ref_is_refused(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let evil = &h.other_tenant;
    let denied = |r: Result<Integration, Error>, field: &str| match r {
        Err(Error::Validation(v)) => {
            assert_eq!(v.field, field, "{v}");
            let text = v.to_string();
            assert!(text.contains("auth ref not allowed"), "{text}");
        }
        other => panic!("expected a denial of {field}, got {other:?}"),
    };
    // Create: acme's ref, a process environment variable, a backend nobody mapped.
    for stolen in [
        AUTH_REF,
        "authref://env/HOME",
        "authref://vault/secret/acme#token",
    ] {
        denied(
            c.create(evil, Harness::input_with_ref("stolen", stolen), true)
                .await,
            "auth_ref",
        );
    }
    let hook_ref = NewIntegration::builder(
        "hooked",
        crate::in_memory::provider(),
        "https://tool.example.test",
    )
    .with_auth_ref(OTHER_TENANT_AUTH_REF)
    .with_configuration(
        serde_json::json!({ "webhook_secret_ref": [OTHER_TENANT_AUTH_REF, AUTH_REF] }),
    )
    .build()
    .expect("valid input");
    denied(c.create(evil, hook_ref, true).await, "configuration");
    // Nothing of the refused creates was stored, audited or announced.
    let listed = c.list(evil, &ListQuery::default()).await.unwrap();
    assert!(listed.items.is_empty(), "{:?}", listed.items);
    assert!(h.drain_events().await.is_empty());

    // Update: the tenant's own integration cannot be pointed at acme's ref.
    let own = c
        .create(evil, Harness::other_tenant_input("own"), true)
        .await
        .unwrap();
    let patch = IntegrationPatch {
        auth_ref: Some(Some(AUTH_REF.parse().unwrap())),
        ..Default::default()
    };
    denied(
        c.update(evil, own.id, own.version, &patch).await,
        "auth_ref",
    );
    let unchanged = c.get(evil, own.id).await.unwrap();
    assert_eq!(unchanged.version, own.version);
    assert_eq!(
        unchanged.auth_ref.as_ref().map(AuthRef::as_str),
        Some(OTHER_TENANT_AUTH_REF)
    );

    // Resolve: a row holding acme's ref, written before the policy existed.
    let mut legacy = Integration::new_draft(
        IntegrationId::new(),
        evil.tenant.clone(),
        Harness::input("legacy"),
        evil.actor.clone(),
        h.clock.now(),
    );
    legacy.status = IntegrationStatus::PendingVerification;
    let audit = AuditRecord::new(
        evil.tenant.clone(),
        Some(legacy.id),
        evil.actor.clone(),
        AuditAction::Created,
        h.clock.now(),
    );
    h.store
        .apply(Mutation {
            change: Change::Create(legacy.clone()),
            audit,
            events: Vec::new(),
            health_check: None,
            seal: Default::default(),
        })
        .await
        .unwrap();
    let report = c.test_connection(evil, legacy.id).await.unwrap();
    assert_eq!(report.result.failure, Some(FailureCode::AuthRefDenied));
    assert!(
        report.result.message.contains("scope `acme`"),
        "{}",
        report.result.message
    );
    assert!(h.connector.calls().is_empty(), "the connector was called");

    // The tenant's own reference resolves and reaches the connector.
    let own_report = c.test_connection(evil, own.id).await.unwrap();
    assert!(own_report.result.is_success(), "{:?}", own_report.result);
    assert_eq!(h.connector.calls().len(), 1);
}

/// Updates and deletes at a stale version are `Conflict`, and change nothing.
pub async fn stale_versions_conflict(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("versioned"), false)
        .await
        .unwrap();
    let rename = |name: &str| IntegrationPatch {
        name: Some(name.parse().unwrap()),
        ..Default::default()
    };
    let v2 = c
        .update(&h.admin, i.id, 1, &rename("renamed"))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let stale = c
        .update(&h.admin, i.id, 1, &rename("lost"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            Error::Conflict {
                expected: 1,
                actual: Some(2),
                ..
            }
        ),
        "{stale}"
    );
    assert!(matches!(
        c.delete(&h.admin, i.id, 1).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        c.get(&h.admin, i.id).await.unwrap().name.as_str(),
        "renamed"
    );
    c.delete(&h.admin, i.id, 2).await.unwrap();
    assert!(matches!(
        c.get(&h.admin, i.id).await,
        Err(Error::NotFound { .. })
    ));
}

/// Create → submit → a passing test makes it Active; failures degrade then fail it; one
/// success brings it back. Health events fire on a change of health only.
pub async fn lifecycle_and_health_events_through_the_catalog(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("walker"), false)
        .await
        .unwrap();
    assert_eq!(i.status, IntegrationStatus::Draft);
    let i = c.submit_for_verification(&h.admin, i.id).await.unwrap();
    assert_eq!(i.status, IntegrationStatus::PendingVerification);
    h.connector.script(
        i.id,
        [
            Outcome::pass(),
            Outcome::fail(FailureCode::Connect),
            Outcome::fail(FailureCode::Connect),
            Outcome::fail(FailureCode::Connect),
            Outcome::fail(FailureCode::Timeout),
            Outcome::fail(FailureCode::Connect),
            Outcome::pass(),
            Outcome::pass(),
        ],
    );
    let mut seen = Vec::new();
    for _ in 0..8 {
        h.clock.advance(Duration::from_secs(60));
        let report = c.test_connection(&h.admin, i.id).await.unwrap();
        seen.push((
            report.integration.status,
            report.integration.consecutive_failures,
        ));
    }
    use IntegrationStatus as S;
    assert_eq!(
        seen,
        vec![
            (S::Active, 0),
            (S::Active, 1),
            (S::Active, 2),
            (S::Degraded, 3),
            (S::Degraded, 4),
            (S::Failed, 5),
            (S::Active, 0),
            (S::Active, 0)
        ]
    );
    let events = h.drain_events().await;
    let health: Vec<EventType> = events
        .iter()
        .map(|e| e.event_type)
        .filter(|t| matches!(t, EventType::Healthy | EventType::Unhealthy))
        .collect();
    assert_eq!(
        health,
        vec![EventType::Healthy, EventType::Unhealthy, EventType::Healthy],
        "health events only on a change of health"
    );
    assert_eq!(events[0].event_type, EventType::Created);
    let report = c
        .health(&h.admin, i.id, TimeRange::all(), 100)
        .await
        .unwrap();
    assert_eq!(report.history.len(), 8);
    assert_eq!((report.summary.checks, report.summary.successes), (8, 3));
    assert_eq!(report.latest.unwrap().id, report.history[0].id);
    assert_eq!(report.history[0].failure, None);
    assert_eq!(report.history[2].failure, Some(FailureCode::Connect));
}

/// With `require_approval`, a passing test only verifies; activation records the approver;
/// activation before a passing test is refused.
pub async fn approval_is_required_when_the_policy_says_so(store: Arc<dyn CatalogStore>) {
    let policy = HealthPolicy {
        require_approval: true,
        ..HealthPolicy::default()
    };
    let h = Harness::with_policy(store, policy);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("approved"), true)
        .await
        .unwrap();
    let refused = c.activate(&h.admin, i.id).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidTransition(_)), "{refused}");
    let tested = c.test_connection(&h.admin, i.id).await.unwrap().integration;
    assert_eq!(
        (tested.status, tested.verified),
        (IntegrationStatus::PendingVerification, true)
    );
    // Neither the creator nor the last modifier may approve it.
    let refused = c.activate(&h.admin, i.id).await.unwrap_err();
    assert!(
        matches!(&refused, Error::SelfApproval { actor } if actor == "alice"),
        "{refused}"
    );
    let editor = Principal::admin(tenant("acme"), actor("eve-editor"));
    let edited = c
        .update(
            &editor,
            i.id,
            tested.version,
            &IntegrationPatch {
                description: Some(Some("edited".parse().unwrap())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.status, IntegrationStatus::PendingVerification);
    let refused = c.activate(&editor, i.id).await.unwrap_err();
    assert!(matches!(refused, Error::SelfApproval { .. }), "{refused}");
    let approver = Principal::admin(tenant("acme"), actor("bob-approver"));
    let active = c.activate(&approver, i.id).await.unwrap();
    assert_eq!(active.status, IntegrationStatus::Active);
    let audit = c.audit(&h.admin, i.id).await.unwrap();
    let activation = audit
        .iter()
        .find(|e| e.record.action == AuditAction::Activated)
        .expect("activation audited");
    assert_eq!(activation.record.approver, Some(actor("bob-approver")));
}

/// Changing base_url, auth_ref, provider or configuration of a verified integration sends it
/// back to verification; other edits do not.
pub async fn connection_changes_require_verification_again(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("moving"), true)
        .await
        .unwrap();
    let active = c.test_connection(&h.admin, i.id).await.unwrap().integration;
    assert_eq!(active.status, IntegrationStatus::Active);
    let tags = IntegrationPatch {
        tags: Some(pathops_core::Tags::new(["a"]).unwrap()),
        ..Default::default()
    };
    let tagged = c
        .update(&h.admin, i.id, active.version, &tags)
        .await
        .unwrap();
    assert_eq!(tagged.status, IntegrationStatus::Active);
    let moved = IntegrationPatch {
        base_url: Some(BaseUrl::parse("https://elsewhere.example.test").unwrap()),
        ..Default::default()
    };
    let moved = c
        .update(&h.admin, i.id, tagged.version, &moved)
        .await
        .unwrap();
    assert_eq!(
        (moved.status, moved.verified),
        (IntegrationStatus::PendingVerification, false)
    );
    let audit = c.audit(&h.admin, i.id).await.unwrap();
    let last = audit.last().unwrap();
    let fields: Vec<&str> = last
        .record
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, vec!["base_url", "status"]);
    assert_eq!(
        last.record.changes[0].old,
        serde_json::json!("https://tool.example.test")
    );
}

/// Paused integrations are never contacted; resume re-checks first thing.
pub async fn paused_integrations_are_never_contacted(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let i = c
        .create(&h.admin, Harness::input("paused"), true)
        .await
        .unwrap();
    c.test_connection(&h.admin, i.id).await.unwrap();
    let calls_before = h.connector.calls().len();
    let paused = c
        .pause(&h.admin, i.id, "registry migration", Some("CHG-1234"))
        .await
        .unwrap();
    assert_eq!(paused.status, IntegrationStatus::Paused);
    assert_eq!(paused.pause_ticket.as_deref(), Some("CHG-1234"));
    assert!(matches!(
        c.test_connection(&h.admin, i.id).await,
        Err(Error::InvalidTransition(_))
    ));
    assert!(matches!(
        c.check_health(&h.admin, i.id).await,
        Err(Error::InvalidTransition(_))
    ));
    assert_eq!(
        h.connector.calls().len(),
        calls_before,
        "a paused integration was contacted"
    );
    let empty_reason = c.pause(&h.admin, i.id, "  ", None).await.unwrap_err();
    assert!(matches!(empty_reason, Error::Validation(ref v) if v.field == "reason"));

    h.connector
        .script(i.id, [Outcome::fail(FailureCode::Connect)]);
    let resumed = c.resume(&h.admin, i.id).await.unwrap();
    assert_eq!(
        h.connector.calls().len(),
        calls_before + 1,
        "resume checks first thing"
    );
    assert_eq!(resumed.integration.status, IntegrationStatus::Active);
    assert_eq!(resumed.integration.consecutive_failures, 1);
    assert_eq!(resumed.integration.pause_reason, None);
    let audit = c.audit(&h.admin, i.id).await.unwrap();
    let pause = audit
        .iter()
        .find(|e| e.record.action == AuditAction::Paused)
        .unwrap();
    assert_eq!(pause.record.reason.as_deref(), Some("registry migration"));
    assert_eq!(pause.record.ticket.as_deref(), Some("CHG-1234"));
    let kinds: Vec<EventType> = h
        .drain_events()
        .await
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert!(kinds.contains(&EventType::Paused) && kinds.contains(&EventType::Resumed));
}

/// A missing connector, an unresolvable auth ref, an invalid configuration and a deadline
/// overrun are failed checks with their own codes, recorded as evidence.
pub async fn check_failures_are_recorded_with_their_codes(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;

    let no_connector =
        NewIntegration::builder("jenkins", Provider::Jenkins, "https://ci.example.test")
            .build()
            .unwrap();
    let j = c.create(&h.admin, no_connector, true).await.unwrap();
    let r = c.test_connection(&h.admin, j.id).await.unwrap();
    assert_eq!(r.result.failure, Some(FailureCode::NoConnector));
    assert_eq!(r.record.failure, Some(FailureCode::NoConnector));
    assert_eq!(r.integration.consecutive_failures, 1);

    let unresolved = NewIntegration::builder(
        "unresolved",
        crate::in_memory::provider(),
        "https://t.example.test",
    )
    .with_auth_ref("ref://acme/in-memory/missing")
    .build()
    .unwrap();
    let u = c.create(&h.admin, unresolved, true).await.unwrap();
    let r = c.test_connection(&h.admin, u.id).await.unwrap();
    assert_eq!(r.result.failure, Some(FailureCode::SecretUnresolved));
    assert!(
        r.result.message.contains("ref://acme/in-memory/missing"),
        "{}",
        r.result.message
    );

    let slow = c
        .create(&h.admin, Harness::input("slow"), true)
        .await
        .unwrap();
    h.connector.script(
        slow.id,
        [Outcome::pass().with_latency(Duration::from_secs(3600))],
    );
    let fast = Catalog::builder(h.store.clone())
        .with_connectors({
            let mut r = ConnectorRegistry::new();
            r.register(h.connector.clone()).unwrap();
            r
        })
        .with_secrets(Arc::new(
            StaticResolver::new().with(AUTH_REF.parse().unwrap(), SENTINEL_SECRET),
        ))
        .with_clock(h.clock.clone())
        .with_check_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let r = fast.test_connection(&h.admin, slow.id).await.unwrap();
    assert_eq!(r.result.failure, Some(FailureCode::Timeout));
    let history = c
        .health(&h.admin, slow.id, TimeRange::all(), 10)
        .await
        .unwrap();
    assert_eq!(history.history.len(), 1);
    assert_eq!(history.history[0].failure, Some(FailureCode::Timeout));
}

/// The audit trail holds an entry per change with a diff; the chain verifies, and editing,
/// removing or reordering any entry is detected.
pub async fn audit_chain_verifies_and_detects_tampering(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    h.audited_integration("audited").await;
    c.create(
        &h.other_tenant,
        Harness::other_tenant_input("elsewhere"),
        false,
    )
    .await
    .unwrap();
    let verified = |p| async move {
        c.verify_audit_chain(p, &VerifyOptions::default())
            .await
            .unwrap()
            .map(|v| v.verified)
    };
    assert_eq!(verified(&h.admin).await, Ok(5));
    assert_eq!(verified(&h.other_tenant).await, Ok(1));

    let entries = c.audit_query(&h.admin, &AuditQuery::all()).await.unwrap();
    let actions: Vec<AuditAction> = entries.iter().map(|e| e.record.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Created,
            AuditAction::Tested,
            AuditAction::Paused,
            AuditAction::Resumed,
            AuditAction::Tested
        ]
    );
    let created = &entries[0].record;
    assert!(
        created
            .changes
            .iter()
            .any(|c| c.field == "auth_ref" && c.new == serde_json::json!(AUTH_REF))
    );
    let verify = pathops_core::audit::verify_chain;
    let mut edited = entries.clone();
    edited[1].record.actor = actor("mallory");
    assert!(verify(&edited).is_err());
    let mut removed = entries.clone();
    removed.remove(2);
    assert!(verify(&removed).is_err());
    let mut reordered = entries.clone();
    reordered.swap(2, 3);
    assert!(verify(&reordered).is_err());
}

/// Plugin discovery persists the registry's descriptors.
pub async fn plugin_discovery_persists_descriptors(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let plugins = h.catalog.discover_plugins(&h.admin).await.unwrap();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].descriptor.provider, crate::in_memory::provider());
    assert_eq!(plugins[0].discovered_at, h.clock.now());
    h.clock.advance(Duration::from_secs(10));
    let again = h.catalog.discover_plugins(&h.admin).await.unwrap();
    assert_eq!(again.len(), 1, "upsert, not insert");
    assert_eq!(again[0].discovered_at, h.clock.now());
}

/// A sink that fails N times still receives every event exactly once after recovery (the
/// relay is at least once; the sink deduplicates by event id, and no event is lost).
pub async fn relay_delivers_every_event_after_a_sink_recovers(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    for n in 0..5 {
        c.create(&h.admin, Harness::input(&format!("evt-{n}")), false)
            .await
            .unwrap();
    }
    let sink = Arc::new(FlakySink::failing(3));
    let relay = OutboxRelay::new(h.store.clone(), vec![sink.clone()], "relay-1")
        .with_clock(h.clock.clone())
        .with_retry_policy(OutboxRetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_attempts: 10,
        });
    for _ in 0..10 {
        relay.relay_once().await.unwrap();
        h.clock.advance(Duration::from_secs(10));
    }
    let received = sink.received();
    let unique: HashSet<_> = received.iter().copied().collect();
    assert_eq!(unique.len(), 5, "every event delivered");
    assert_eq!(received.len(), 5, "each accepted exactly once");
    assert_eq!(sink.failures(), 3);
    assert_eq!(
        relay.relay_once().await.unwrap().claimed,
        0,
        "nothing left to deliver"
    );
}

/// Each integration's events reach the sink in the order the catalog wrote them even when
/// one publish fails: the relay holds back the integration's later events of the batch and the
/// store leases none of them while the failed one waits for its retry; other integrations'
/// events flow meanwhile.
pub async fn relay_keeps_each_integrations_order_across_a_failure(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    let c = &h.catalog;
    let x = c
        .create(&h.admin, Harness::input("ordered"), true)
        .await
        .unwrap();
    c.pause(&h.admin, x.id, "maintenance", None).await.unwrap();
    c.resume(&h.admin, x.id).await.unwrap();
    let y = c
        .create(&h.admin, Harness::input("bystander"), true)
        .await
        .unwrap();
    // Resuming tests the connection again: healthy, then active again (updated).
    let want_x = [
        EventType::Created,
        EventType::Paused,
        EventType::Resumed,
        EventType::Healthy,
        EventType::Updated,
    ];
    let want_y = [EventType::Created];

    // The second publish (the integration's second event) fails once.
    let sink = Arc::new(FlakySink::failing_call(2));
    let relay = OutboxRelay::new(h.store.clone(), vec![sink.clone()], "relay-1")
        .with_clock(h.clock.clone())
        .with_retry_policy(OutboxRetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
            max_attempts: 5,
        });
    let first = relay.relay_once().await.unwrap();
    assert_eq!(first.retried, 1, "{first:?}");
    assert_eq!(
        first.held_back,
        want_x.len() - 2,
        "the failed event's followers are held back: {first:?}"
    );
    assert_eq!(
        first.delivered,
        1 + want_y.len(),
        "the first event and the other integration's flow: {first:?}"
    );
    assert_eq!(
        relay.relay_once().await.unwrap().claimed,
        0,
        "nothing is claimed while the failed event waits for its retry"
    );
    h.clock.advance(Duration::from_secs(2));
    let second = relay.relay_once().await.unwrap();
    assert_eq!(second.delivered, want_x.len() - 1, "{second:?}");
    let got = |id: IntegrationId| -> Vec<EventType> {
        sink.received_events()
            .into_iter()
            .filter(|e| e.integration_id == id)
            .map(|e| e.event_type)
            .collect()
    };
    assert_eq!(got(x.id), want_x, "in the order they were written");
    assert_eq!(got(y.id), want_y);
    assert_eq!(relay.relay_once().await.unwrap().claimed, 0);
}

/// Events that keep failing are marked dead after the policy's limit instead of being retried
/// forever.
pub async fn relay_marks_events_dead_after_the_limit(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    h.catalog
        .create(&h.admin, Harness::input("doomed"), false)
        .await
        .unwrap();
    let sink = Arc::new(FlakySink::failing(usize::MAX));
    let relay = OutboxRelay::new(h.store.clone(), vec![sink.clone()], "relay-1")
        .with_clock(h.clock.clone())
        .with_retry_policy(OutboxRetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
            max_attempts: 3,
        });
    let mut dead = 0;
    for _ in 0..6 {
        dead += relay.relay_once().await.unwrap().dead;
        h.clock.advance(Duration::from_secs(5));
    }
    assert_eq!(dead, 1);
    assert_eq!(sink.failures(), 3, "three attempts, then no more");
}

/// A relay that dies after claiming a batch loses nothing: after the lease expires another
/// relay delivers the events.
pub async fn a_relay_that_dies_after_claiming_loses_nothing(store: Arc<dyn CatalogStore>) {
    let h = Harness::new(store);
    for n in 0..3 {
        h.catalog
            .create(&h.admin, Harness::input(&format!("lease-{n}")), false)
            .await
            .unwrap();
    }
    let claim = pathops_core::event::OutboxClaim {
        owner: "relay-that-dies".into(),
        limit: 100,
        now: h.clock.now(),
        lease: Duration::from_secs(30),
    };
    let claimed = h.store.claim_outbox(&claim).await.unwrap();
    assert_eq!(claimed.len(), 3);
    // The relay process dies here, without acknowledging anything.
    let sink = Arc::new(FlakySink::failing(0));
    let survivor = OutboxRelay::new(h.store.clone(), vec![sink.clone()], "relay-2")
        .with_clock(h.clock.clone())
        .with_lease(Duration::from_secs(30));
    assert_eq!(
        survivor.relay_once().await.unwrap().claimed,
        0,
        "lease still held"
    );
    h.clock.advance(Duration::from_secs(31));
    assert_eq!(survivor.relay_once().await.unwrap().delivered, 3);
    let ids: HashSet<_> = claimed.iter().map(|e| e.envelope.id).collect();
    assert_eq!(sink.received().into_iter().collect::<HashSet<_>>(), ids);
}

/// The sentinel secret appears in no audit entry, event, check result, log line or error,
/// whether the check passes or fails.
pub async fn the_secret_never_leaks(store: Arc<dyn CatalogStore>) {
    let logs = LogCapture::default();
    let subscriber = logs.subscriber();
    async {
        let h = Harness::new(store);
        let c = &h.catalog;
        let i = c
            .create(&h.admin, Harness::input("secretive"), true)
            .await
            .unwrap();
        let pass = c.test_connection(&h.admin, i.id).await.unwrap();
        assert!(pass.result.is_success(), "the sentinel credential was used");
        h.connector
            .script(i.id, [Outcome::fail(FailureCode::Unauthenticated)]);
        let fail = c.check_health(&h.admin, i.id).await.unwrap();
        let err = c.activate(&h.admin, i.id).await.unwrap_err();
        let audit = c.audit_query(&h.admin, &AuditQuery::all()).await.unwrap();
        let events = h.drain_events().await;
        let texts = [
            format!("{pass:?}"),
            format!("{fail:?}"),
            format!("{err} {err:?}"),
            serde_json::to_string(&audit).unwrap(),
            serde_json::to_string(&events).unwrap(),
            format!("{:?}", h.catalog),
        ];
        for t in texts {
            assert!(!t.contains(SENTINEL_SECRET), "leaked: {t}");
        }
    }
    .with_subscriber(subscriber)
    .await;
    let logged = logs.contents();
    assert!(
        logged.contains("check recorded"),
        "logs were captured: {logged}"
    );
    assert!(
        logged.contains("catalog.test_connection"),
        "spans were captured: {logged}"
    );
    assert!(
        !logged.contains(SENTINEL_SECRET),
        "leaked into logs: {logged}"
    );
}

/// A sink that refuses some publishes (its first `n`, or one given call) and records the events
/// it accepts.
#[derive(Debug)]
pub struct FlakySink {
    refuse: Refuse,
    calls: Mutex<usize>,
    failures: Mutex<usize>,
    received: Mutex<Vec<EventEnvelope>>,
}

#[derive(Debug)]
enum Refuse {
    FirstN(usize),
    Call(usize),
}

impl FlakySink {
    /// Fails the first `n` publishes.
    pub fn failing(n: usize) -> Self {
        Self::refusing(Refuse::FirstN(n))
    }

    /// Fails only the `n`th publish (counting from 1).
    pub fn failing_call(n: usize) -> Self {
        Self::refusing(Refuse::Call(n))
    }

    fn refusing(refuse: Refuse) -> Self {
        Self {
            refuse,
            calls: Mutex::new(0),
            failures: Mutex::new(0),
            received: Mutex::new(Vec::new()),
        }
    }

    /// Ids accepted, in order, deduplicated by id (a redelivered event is not counted twice).
    pub fn received(&self) -> Vec<uuid::Uuid> {
        self.received.lock().unwrap().iter().map(|e| e.id).collect()
    }

    /// Events accepted, in order, deduplicated by id.
    pub fn received_events(&self) -> Vec<EventEnvelope> {
        self.received.lock().unwrap().clone()
    }

    /// Publishes refused so far.
    pub fn failures(&self) -> usize {
        *self.failures.lock().unwrap()
    }
}

#[async_trait]
impl EventSink for FlakySink {
    fn name(&self) -> &str {
        "flaky"
    }

    async fn publish(&self, event: &EventEnvelope) -> pathops_core::Result<()> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        let refused = match self.refuse {
            Refuse::FirstN(n) => call <= n,
            Refuse::Call(n) => call == n,
        };
        if refused {
            *self.failures.lock().unwrap() += 1;
            return Err(Error::backend(
                "flaky",
                std::io::Error::other("sink unavailable"),
            ));
        }
        let mut received = self.received.lock().unwrap();
        if !received.iter().any(|e| e.id == event.id) {
            received.push(event.clone());
        }
        Ok(())
    }
}

/// Generates one `#[tokio::test]` (multi-threaded runtime) per catalog conformance check,
/// each over a fresh store opened by `$factory` (an expression whose type implements
/// [`StoreFactory`](crate::store_suite::StoreFactory)), cleaned up afterwards.
#[macro_export]
macro_rules! catalog_conformance_tests {
    ($factory:expr) => {
        $crate::catalog_conformance_tests!(@tests $factory;
            scopes_are_enforced_for_every_operation,
            the_principals_tenant_is_the_only_one_reachable,
            another_tenants_auth_ref_is_refused,
            stale_versions_conflict,
            lifecycle_and_health_events_through_the_catalog,
            approval_is_required_when_the_policy_says_so,
            connection_changes_require_verification_again,
            paused_integrations_are_never_contacted,
            check_failures_are_recorded_with_their_codes,
            audit_chain_verifies_and_detects_tampering,
            plugin_discovery_persists_descriptors,
            relay_delivers_every_event_after_a_sink_recovers,
            relay_keeps_each_integrations_order_across_a_failure,
            relay_marks_events_dead_after_the_limit,
            a_relay_that_dies_after_claiming_loses_nothing,
            the_secret_never_leaks,
        );
    };
    (@tests $factory:expr; $($check:ident),* $(,)?) => {
        mod catalog_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    $crate::store_suite::run($factory, |store| {
                        Box::pin($crate::catalog_suite::$check(store))
                    })
                    .await;
                }
            )*
        }
    };
}
