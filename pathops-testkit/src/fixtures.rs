//! Builders for test data: integrations, mutations and audit records with sensible defaults.

use pathops_core::{
    ActorId, AuditAction, AuditRecord, Change, EventEnvelope, EventType, Integration,
    IntegrationId, Mutation, NewIntegration, Provider, TenantId,
};
use time::OffsetDateTime;

/// A tenant id from a literal; panics on an invalid one (test code only).
pub fn tenant(id: &str) -> TenantId {
    id.parse().expect("valid tenant id")
}

/// An actor id from a literal; panics on an invalid one (test code only).
pub fn actor(id: &str) -> ActorId {
    id.parse().expect("valid actor id")
}

/// Builds [`Integration`]s for tests.
///
/// ```
/// use pathops_testkit::fixtures::IntegrationBuilder;
/// use pathops_core::Provider;
///
/// let i = IntegrationBuilder::new("acme", "GitLab prod").provider(Provider::GitLab).build();
/// assert_eq!(i.tenant_id.as_str(), "acme");
/// assert_eq!(i.version, 1);
/// ```
#[derive(Debug, Clone)]
pub struct IntegrationBuilder {
    tenant: TenantId,
    name: String,
    provider: Provider,
    base_url: String,
    auth_ref: Option<String>,
    tags: Vec<String>,
    environment: Option<String>,
    configuration: serde_json::Value,
    actor: ActorId,
    at: OffsetDateTime,
}

impl IntegrationBuilder {
    /// A draft in-memory integration named `name` of `tenant`.
    pub fn new(tenant_id: &str, name: &str) -> Self {
        Self {
            tenant: tenant(tenant_id),
            name: name.to_owned(),
            provider: crate::in_memory::provider(),
            base_url: "https://tool.example.test".to_owned(),
            auth_ref: None,
            tags: Vec::new(),
            environment: None,
            configuration: serde_json::json!({}),
            actor: actor("test-actor"),
            at: crate::clock::ManualClock::DEFAULT_START,
        }
    }

    /// Sets the provider.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// Sets the base URL.
    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = url.to_owned();
        self
    }

    /// Sets the auth ref.
    pub fn auth_ref(mut self, auth_ref: &str) -> Self {
        self.auth_ref = Some(auth_ref.to_owned());
        self
    }

    /// Sets the tags.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// Sets the environment.
    pub fn environment(mut self, environment: &str) -> Self {
        self.environment = Some(environment.to_owned());
        self
    }

    /// Sets the configuration.
    pub fn configuration(mut self, configuration: serde_json::Value) -> Self {
        self.configuration = configuration;
        self
    }

    /// Sets the creating actor.
    pub fn actor(mut self, actor_id: &str) -> Self {
        self.actor = actor(actor_id);
        self
    }

    /// Sets the creation time.
    pub fn at(mut self, at: OffsetDateTime) -> Self {
        self.at = at;
        self
    }

    /// The integration (a draft, version 1); panics on invalid input (test code only).
    pub fn build(self) -> Integration {
        let mut b = NewIntegration::builder(self.name, self.provider, self.base_url)
            .with_configuration(self.configuration)
            .with_tags(self.tags);
        if let Some(r) = self.auth_ref {
            b = b.with_auth_ref(r);
        }
        if let Some(e) = self.environment {
            b = b.with_environment(e);
        }
        let input = b.build().expect("valid test integration");
        Integration::new_draft(
            IntegrationId::new(),
            self.tenant,
            input,
            self.actor,
            self.at,
        )
    }
}

/// A create mutation for `integration`, with its audit record and an `integration.created`
/// event.
pub fn create_mutation(integration: Integration) -> Mutation {
    let audit = AuditRecord::new(
        integration.tenant_id.clone(),
        Some(integration.id),
        integration.created_by.clone(),
        AuditAction::Created,
        integration.created_at,
    );
    let event = EventEnvelope::new(
        EventType::Created,
        integration.tenant_id.clone(),
        integration.id,
        1,
        integration.created_at,
        serde_json::json!({ "name": integration.name.as_str() }),
    );
    Mutation {
        change: Change::Create(integration),
        audit,
        events: vec![event],
        health_check: None,
        seal: pathops_core::store::AuditSeal::default(),
    }
}

/// An update mutation writing `integration` over `expected_version`, audited as `action`, with
/// an `integration.updated` event.
pub fn update_mutation(
    integration: Integration,
    expected_version: u64,
    action: AuditAction,
    at: OffsetDateTime,
) -> Mutation {
    let audit = AuditRecord::new(
        integration.tenant_id.clone(),
        Some(integration.id),
        integration.modified_by.clone(),
        action,
        at,
    );
    let event = EventEnvelope::new(
        EventType::Updated,
        integration.tenant_id.clone(),
        integration.id,
        expected_version + 1,
        at,
        serde_json::json!({}),
    );
    Mutation {
        change: Change::Update {
            integration,
            expected_version,
            write_health: true,
        },
        audit,
        events: vec![event],
        health_check: None,
        seal: pathops_core::store::AuditSeal::default(),
    }
}
