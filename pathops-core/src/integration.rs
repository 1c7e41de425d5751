//! The [`Integration`] entity, its creation input [`NewIntegration`] and its edit input
//! [`IntegrationPatch`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth_ref::AuthRef;
use crate::fields::{BaseUrl, Configuration, Description, Environment, IntegrationName, Tags};
use crate::id::{ActorId, IntegrationId, TenantId};
use crate::lifecycle::{IntegrationStatus, LifecycleState, Transition};
use crate::provider::{IntegrationType, Provider};
use crate::validate::{Problem, ValidationError};

/// One registered external tool of one tenant.
///
/// Holds a credential *reference* ([`AuthRef`]), never a secret. `version` increases by one on
/// every stored change and guards updates (optimistic concurrency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// Identity.
    pub id: IntegrationId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name, unique per tenant among live integrations.
    pub name: IntegrationName,
    /// Free text.
    pub description: Option<Description>,
    /// What kind of tool.
    pub integration_type: IntegrationType,
    /// Which product.
    pub provider: Provider,
    /// Where it is reached.
    pub base_url: BaseUrl,
    /// Where its credential lives.
    pub auth_ref: Option<AuthRef>,
    /// Provider-specific settings.
    pub configuration: Configuration,
    /// Deployment environment.
    pub environment: Option<Environment>,
    /// Labels.
    pub tags: Tags,
    /// The person or team accountable for it.
    pub owner_id: Option<ActorId>,
    /// Lifecycle status.
    pub status: IntegrationStatus,
    /// The current connection settings passed a test.
    pub verified: bool,
    /// Why it was paused (set while paused).
    pub pause_reason: Option<String>,
    /// The change ticket that paused it (set while paused, when given).
    pub pause_ticket: Option<String>,
    /// When it was last tested or checked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_tested_at: Option<OffsetDateTime>,
    /// Whether that last test passed.
    pub last_test_success: Option<bool>,
    /// Failed checks since the last passing one.
    pub consecutive_failures: u32,
    /// Health changed more often than the flap policy allows (see
    /// [`FlapPolicy`](crate::health::FlapPolicy)).
    #[serde(default)]
    pub flapping: bool,
    /// Creation time (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: ActorId,
    /// Last change time (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
    /// Who changed it last.
    pub modified_by: ActorId,
    /// Optimistic-concurrency version, 1 on creation.
    pub version: u64,
}

impl Integration {
    /// A new draft from validated input. `now` should come from a [`Clock`](crate::Clock).
    pub fn new_draft(
        id: IntegrationId,
        tenant_id: TenantId,
        input: NewIntegration,
        actor: ActorId,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            tenant_id,
            name: input.name,
            description: input.description,
            integration_type: input.provider.integration_type(),
            provider: input.provider,
            base_url: input.base_url,
            auth_ref: input.auth_ref,
            configuration: input.configuration,
            environment: input.environment,
            tags: input.tags,
            owner_id: input.owner_id,
            status: IntegrationStatus::Draft,
            verified: false,
            pause_reason: None,
            pause_ticket: None,
            last_tested_at: None,
            last_test_success: None,
            consecutive_failures: 0,
            flapping: false,
            created_at: now,
            created_by: actor.clone(),
            modified_at: now,
            modified_by: actor,
            version: 1,
        }
    }

    /// The lifecycle-relevant part of the integration.
    pub fn lifecycle_state(&self) -> LifecycleState {
        LifecycleState {
            status: self.status,
            verified: self.verified,
            consecutive_failures: self.consecutive_failures,
        }
    }

    /// Writes the outcome of a transition back into the entity. Pause details are cleared when
    /// the integration leaves Paused.
    pub fn apply_transition(&mut self, transition: &Transition) {
        self.status = transition.to.status;
        self.verified = transition.to.verified;
        self.consecutive_failures = transition.to.consecutive_failures;
        if self.status != IntegrationStatus::Paused {
            self.pause_reason = None;
            self.pause_ticket = None;
        }
    }

    /// Whether it is paused.
    pub fn is_paused(&self) -> bool {
        self.status == IntegrationStatus::Paused
    }

    /// Applies a patch, returning what changed. Cross-field rules are checked here: a provider
    /// change must keep the integration type, and a patch that changes nothing is refused.
    /// Whether the connection settings changed (and so the integration must be verified again)
    /// is reported in [`PatchOutcome::connection_changed`].
    pub fn apply_patch(
        &mut self,
        patch: &IntegrationPatch,
    ) -> Result<PatchOutcome, ValidationError> {
        if let Some(provider) = &patch.provider
            && provider.integration_type() != self.integration_type
        {
            return Err(ValidationError::new(
                "provider",
                Problem::ProviderTypeMismatch,
            ));
        }
        let mut changes = Vec::new();
        macro_rules! set {
            ($field:ident) => {
                if let Some(new) = &patch.$field {
                    if *new != self.$field {
                        changes.push(FieldChange::new(stringify!($field), &self.$field, new));
                        self.$field = new.clone();
                    }
                }
            };
        }
        set!(name);
        set!(description);
        set!(provider);
        set!(base_url);
        set!(auth_ref);
        set!(configuration);
        set!(environment);
        set!(tags);
        set!(owner_id);
        if changes.is_empty() {
            return Err(ValidationError::new("patch", Problem::NoChanges));
        }
        let connection_changed = changes.iter().any(|c| c.is_connection_field());
        Ok(PatchOutcome {
            changes,
            connection_changed,
        })
    }
}

/// What [`Integration::apply_patch`] changed.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// Field-level diff, in field order.
    pub changes: Vec<FieldChange>,
    /// base_url, auth_ref, provider or configuration changed.
    pub connection_changed: bool,
}

/// One changed field: its name and its JSON value before and after. Values are references and
/// settings, never secrets (an integration holds none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field name.
    pub field: String,
    /// The value before.
    pub old: serde_json::Value,
    /// The value after.
    pub new: serde_json::Value,
}

impl FieldChange {
    /// A change of `field` from `old` to `new`.
    pub fn new<T: Serialize + ?Sized>(field: &str, old: &T, new: &T) -> Self {
        let json = |v: &T| serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        Self {
            field: field.to_owned(),
            old: json(old),
            new: json(new),
        }
    }

    /// Whether the field is one whose change requires verifying the integration again.
    pub fn is_connection_field(&self) -> bool {
        CONNECTION_FIELDS.contains(&self.field.as_str())
    }
}

/// Fields whose change sends a verified integration back to verification: credentials never
/// follow a URL change unverified.
pub const CONNECTION_FIELDS: [&str; 4] = ["base_url", "auth_ref", "provider", "configuration"];

/// Validated input for creating an integration. Build it with [`NewIntegration::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntegration {
    /// Display name.
    pub name: IntegrationName,
    /// Free text.
    pub description: Option<Description>,
    /// Which product; it also fixes the integration type.
    pub provider: Provider,
    /// Where it is reached.
    pub base_url: BaseUrl,
    /// Where its credential lives.
    pub auth_ref: Option<AuthRef>,
    /// Provider-specific settings.
    pub configuration: Configuration,
    /// Deployment environment.
    pub environment: Option<Environment>,
    /// Labels.
    pub tags: Tags,
    /// Accountable owner.
    pub owner_id: Option<ActorId>,
}

impl NewIntegration {
    /// A builder taking unvalidated values; [`NewIntegrationBuilder::build`] validates them once.
    pub fn builder(
        name: impl Into<String>,
        provider: Provider,
        base_url: impl Into<String>,
    ) -> NewIntegrationBuilder {
        NewIntegrationBuilder {
            name: name.into(),
            description: None,
            provider,
            integration_type: None,
            base_url: base_url.into(),
            auth_ref: None,
            configuration: None,
            environment: None,
            tags: Vec::new(),
            owner_id: None,
        }
    }
}

/// Unvalidated input for a [`NewIntegration`]; setters never fail, [`build`](Self::build)
/// checks everything and names the first bad field. Also deserializable, for request bodies.
///
/// ```
/// use pathops_core::{NewIntegration, Provider};
///
/// let new = NewIntegration::builder("GitLab prod", Provider::GitLab, "https://gitlab.example.com/")
///     .with_auth_ref("ref://acme/gitlab/ci-token")
///     .with_configuration(serde_json::json!({ "project": "platform/api", "hook_id": 7 }))
///     .with_tags(["team:platform", "prod"])
///     .build()?;
/// assert_eq!(new.base_url.as_str(), "https://gitlab.example.com");
/// assert_eq!(new.tags.as_slice(), ["prod", "team:platform"]);
/// # Ok::<(), pathops_core::ValidationError>(())
/// ```
///
/// Its `Debug` output shows only the name and provider: before validation, `base_url` may
/// carry credentials (`https://user:token@host`) and `auth_ref` may hold a pasted secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIntegrationBuilder {
    name: String,
    #[serde(default)]
    description: Option<String>,
    provider: Provider,
    #[serde(default)]
    integration_type: Option<IntegrationType>,
    base_url: String,
    #[serde(default)]
    auth_ref: Option<String>,
    #[serde(default)]
    configuration: Option<serde_json::Value>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    owner_id: Option<String>,
}

impl std::fmt::Debug for NewIntegrationBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewIntegrationBuilder")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl NewIntegrationBuilder {
    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Asserts the integration type; `build` refuses a provider of another type.
    pub fn with_integration_type(mut self, integration_type: IntegrationType) -> Self {
        self.integration_type = Some(integration_type);
        self
    }
    /// Sets the auth ref (`ref://…` or `authref://…`).
    pub fn with_auth_ref(mut self, auth_ref: impl Into<String>) -> Self {
        self.auth_ref = Some(auth_ref.into());
        self
    }
    /// Sets the configuration object.
    pub fn with_configuration(mut self, configuration: serde_json::Value) -> Self {
        self.configuration = Some(configuration);
        self
    }
    /// Sets the environment.
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }
    /// Sets the tags.
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the owner.
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner_id = Some(owner.into());
        self
    }

    /// Validates every field, in declaration order, and the provider/type pairing.
    pub fn build(self) -> Result<NewIntegration, ValidationError> {
        let name = IntegrationName::new(self.name)?;
        let description = self.description.map(Description::new).transpose()?;
        if let Some(t) = self.integration_type
            && t != self.provider.integration_type()
        {
            return Err(ValidationError::new(
                "provider",
                Problem::ProviderTypeMismatch,
            ));
        }
        let base_url = BaseUrl::parse(&self.base_url)?;
        let auth_ref = self
            .auth_ref
            .map(|r| {
                AuthRef::parse(&r)
                    .map_err(|e| ValidationError::new("auth_ref", Problem::InvalidAuthRef(e)))
            })
            .transpose()?;
        let configuration = match self.configuration {
            Some(v) => Configuration::new(v)?,
            None => Configuration::empty(),
        };
        let environment = self.environment.map(|e| e.parse()).transpose()?;
        let tags = Tags::new(self.tags)?;
        let owner_id = self
            .owner_id
            .map(|o| ActorId::new(o).map_err(|e| ValidationError::new("owner_id", e.problem)))
            .transpose()?;
        Ok(NewIntegration {
            name,
            description,
            provider: self.provider,
            base_url,
            auth_ref,
            configuration,
            environment,
            tags,
            owner_id,
        })
    }
}

/// A change to an integration: `None` leaves a field as it is; for optional fields,
/// `Some(None)` clears it. Every value is already validated by its type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationPatch {
    /// New name.
    pub name: Option<IntegrationName>,
    /// New description, or `Some(None)` to clear.
    pub description: Option<Option<Description>>,
    /// New provider (same integration type).
    pub provider: Option<Provider>,
    /// New base URL (connection change).
    pub base_url: Option<BaseUrl>,
    /// New auth ref, or `Some(None)` to clear (connection change).
    pub auth_ref: Option<Option<AuthRef>>,
    /// New configuration (connection change).
    pub configuration: Option<Configuration>,
    /// New environment, or `Some(None)` to clear.
    pub environment: Option<Option<Environment>>,
    /// New tags.
    pub tags: Option<Tags>,
    /// New owner, or `Some(None)` to clear.
    pub owner_id: Option<Option<ActorId>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{HealthPolicy, LifecycleEvent, transition};
    use serde_json::json;
    use time::macros::datetime;

    fn sample() -> Integration {
        let input =
            NewIntegration::builder("GitLab", Provider::GitLab, "https://gitlab.example.com")
                .with_auth_ref("ref://acme/gitlab/token")
                .build()
                .unwrap();
        Integration::new_draft(
            IntegrationId::new(),
            "acme".parse().unwrap(),
            input,
            "alice".parse().unwrap(),
            datetime!(2026-01-01 00:00 UTC),
        )
    }

    #[test]
    fn builder_reports_the_first_bad_field() {
        let base = || NewIntegration::builder("ok", Provider::Harbor, "https://h.example");
        let field = |b: NewIntegrationBuilder| b.build().unwrap_err().field;
        assert_eq!(
            field(NewIntegration::builder("", Provider::Harbor, "https://h")),
            "name"
        );
        assert_eq!(
            field(NewIntegration::builder("ok", Provider::Harbor, "h")),
            "base_url"
        );
        assert_eq!(field(base().with_auth_ref("vault:x")), "auth_ref");
        assert_eq!(field(base().with_configuration(json!(1))), "configuration");
        assert_eq!(field(base().with_environment("PROD")), "environment");
        assert_eq!(field(base().with_tags([""])), "tags");
        assert_eq!(field(base().with_owner("a b")), "owner_id");
        assert_eq!(field(base().with_description("\u{0}")), "description");
        assert_eq!(
            base()
                .with_integration_type(IntegrationType::Scm)
                .build()
                .unwrap_err(),
            ValidationError::new("provider", Problem::ProviderTypeMismatch)
        );
    }

    #[test]
    fn builder_deserializes_from_a_request_body() {
        let b: NewIntegrationBuilder = serde_json::from_value(json!({
            "name": "Harbor", "provider": "harbor", "base_url": "https://harbor.example/",
            "tags": ["b", "a"], "environment": "staging"
        }))
        .unwrap();
        let new = b.build().unwrap();
        assert_eq!(new.provider, Provider::Harbor);
        assert_eq!(new.environment, Some(Environment::Staging));
        assert!(
            serde_json::from_value::<NewIntegrationBuilder>(json!({
                "name": "x", "provider": "harbor", "base_url": "https://x", "password": "hunter2"
            }))
            .is_err()
        );
    }

    #[test]
    fn patch_reports_diff_and_connection_changes() {
        let mut i = sample();
        let patch = IntegrationPatch {
            tags: Some(Tags::new(["x"]).unwrap()),
            ..Default::default()
        };
        let out = i.apply_patch(&patch).unwrap();
        assert!(!out.connection_changed);
        assert_eq!(out.changes[0].field, "tags");
        assert_eq!(out.changes[0].new, json!(["x"]));

        let patch = IntegrationPatch {
            base_url: Some(BaseUrl::parse("https://other.example").unwrap()),
            ..Default::default()
        };
        let out = i.apply_patch(&patch).unwrap();
        assert!(out.connection_changed);
        assert_eq!(out.changes[0].old, json!("https://gitlab.example.com"));

        assert_eq!(
            i.apply_patch(&patch).unwrap_err().problem,
            Problem::NoChanges,
            "same value again changes nothing"
        );
        let wrong_type = IntegrationPatch {
            provider: Some(Provider::Harbor),
            ..Default::default()
        };
        assert_eq!(
            i.apply_patch(&wrong_type).unwrap_err().problem,
            Problem::ProviderTypeMismatch
        );
    }

    #[test]
    fn transitions_write_back_and_clear_pause_details() {
        let mut i = sample();
        let p = HealthPolicy::default();
        for e in [
            LifecycleEvent::Submit,
            LifecycleEvent::CheckPassed,
            LifecycleEvent::Pause,
        ] {
            let t = transition(i.lifecycle_state(), e, &p).unwrap();
            i.apply_transition(&t);
        }
        i.pause_reason = Some("maintenance".into());
        assert!(i.is_paused());
        let t = transition(i.lifecycle_state(), LifecycleEvent::Resume, &p).unwrap();
        i.apply_transition(&t);
        assert_eq!(i.status, IntegrationStatus::Active);
        assert_eq!(i.pause_reason, None);
    }

    #[test]
    fn integration_serde_round_trips() {
        let i = sample();
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(serde_json::from_str::<Integration>(&json).unwrap(), i);
    }
}
