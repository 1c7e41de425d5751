//! Catalog operations: CRUD, lifecycle, audit and plugin discovery.

use serde_json::{Value, json};
use tracing::{Span, instrument};

use super::{AuditParts, Catalog, ChangeNote, Principal, Scope, operator_text};
use crate::audit::{AuditAction, AuditEntry, AuditRecord};
use crate::error::{Error, ResourceKind, Result};
use crate::event::{EventEnvelope, EventType};
use crate::id::IntegrationId;
use crate::integration::{FieldChange, Integration, IntegrationPatch, NewIntegration};
use crate::lifecycle::{LifecycleEvent, transition};
use crate::page::{ListFilter, ListQuery, Page};
use std::collections::{BTreeMap, BTreeSet};

use crate::provider::{IntegrationType, Provider};
use crate::secret::check_integration_refs;
use crate::store::{AuditQuery, Change, Mutation, PluginMetadata, PluginState};

/// The fields of a new integration recorded in its creation audit entry (old values null).
fn creation_diff(i: &Integration) -> Vec<FieldChange> {
    fn added<T: serde::Serialize>(field: &str, value: &T) -> FieldChange {
        FieldChange::new(field, &None, &Some(value))
    }
    vec![
        added("name", &i.name),
        added("provider", &i.provider),
        added("base_url", &i.base_url),
        added("auth_ref", &i.auth_ref),
        added("configuration", &i.configuration),
        added("environment", &i.environment),
        added("tags", &i.tags),
        added("owner_id", &i.owner_id),
        added("status", &i.status),
    ]
}

/// A lifecycle event with how it is audited, announced and counted.
#[derive(Debug, Clone, Copy)]
struct Step {
    event: LifecycleEvent,
    action: AuditAction,
    event_type: EventType,
    metric: &'static str,
}

const SUBMIT: Step = Step {
    event: LifecycleEvent::Submit,
    action: AuditAction::Submitted,
    event_type: EventType::Updated,
    metric: "submit",
};
const ACTIVATE: Step = Step {
    event: LifecycleEvent::Activate,
    action: AuditAction::Activated,
    event_type: EventType::Updated,
    metric: "activate",
};
const PAUSE: Step = Step {
    event: LifecycleEvent::Pause,
    action: AuditAction::Paused,
    event_type: EventType::Paused,
    metric: "pause",
};
const RESUME: Step = Step {
    event: LifecycleEvent::Resume,
    action: AuditAction::Resumed,
    event_type: EventType::Resumed,
    metric: "resume",
};
const DELETE: Step = Step {
    event: LifecycleEvent::Delete,
    action: AuditAction::Deleted,
    event_type: EventType::Deleted,
    metric: "delete",
};

/// Records the provider on the current span once the integration is known.
fn record_provider(i: &Integration) {
    Span::current().record("provider", i.provider.as_str());
}

impl Catalog {
    /// Creates an integration as a draft, or submitted for verification at once when `submit`
    /// is set. The connector for its provider, when registered, validates the configuration.
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewIntegration,
        submit: bool,
    ) -> Result<Integration> {
        self.create_noted(principal, input, submit, &ChangeNote::default())
            .await
    }

    /// [`create`](Self::create), with a ticket and reason for the audit entry.
    #[instrument(name = "catalog.create", skip_all, fields(tenant_id = %principal.tenant, integration_id, provider = %input.provider, action = "create"))]
    pub(crate) async fn create_noted(
        &self,
        principal: &Principal,
        input: NewIntegration,
        submit: bool,
        note: &ChangeNote,
    ) -> Result<Integration> {
        principal.require(Scope::IntegrationsAdmin)?;
        check_integration_refs(
            &self.inner.auth_refs,
            &principal.tenant,
            input.auth_ref.as_ref(),
            &input.configuration,
        )?;
        if let Some(connector) = self.connector(&input.provider) {
            connector.validate_config(&input.configuration).await?;
        }
        let now = self.now();
        let mut integration = Integration::new_draft(
            IntegrationId::new(),
            principal.tenant.clone(),
            input,
            principal.actor.clone(),
            now,
        );
        Span::current().record("integration_id", integration.id.to_string());
        if submit {
            let t = transition(
                integration.lifecycle_state(),
                LifecycleEvent::Submit,
                &self.inner.policy,
            )?;
            integration.apply_transition(&t);
        }
        let mut audit = AuditRecord::new(
            principal.tenant.clone(),
            Some(integration.id),
            principal.actor.clone(),
            AuditAction::Created,
            now,
        );
        audit.changes = creation_diff(&integration);
        audit.ticket = note.ticket.clone();
        audit.reason = note.reason.clone();
        let event = EventEnvelope::new(
            EventType::Created,
            principal.tenant.clone(),
            integration.id,
            1,
            now,
            json!({
                "name": integration.name,
                "provider": integration.provider,
                "integration_type": integration.integration_type,
                "status": integration.status,
            }),
        );
        let mutation = Mutation {
            change: Change::Create(integration),
            audit,
            events: vec![event],
            health_check: None,
            seal: crate::store::AuditSeal::default(),
        };
        self.commit(mutation, "create").await
    }

    /// One integration of the principal's tenant.
    #[instrument(name = "catalog.get", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "get"))]
    pub async fn get(&self, principal: &Principal, id: IntegrationId) -> Result<Integration> {
        principal.require(Scope::IntegrationsRead)?;
        let i = self.load(principal, id).await?;
        record_provider(&i);
        Ok(i)
    }

    /// A page of the principal's integrations, ordered by (name, id).
    #[instrument(name = "catalog.list", skip_all, fields(tenant_id = %principal.tenant, action = "list"))]
    pub async fn list(
        &self,
        principal: &Principal,
        query: &ListQuery,
    ) -> Result<Page<Integration>> {
        principal.require(Scope::IntegrationsRead)?;
        self.inner.store.list(&principal.tenant, query).await
    }

    /// A page of the principal's integrations of one type.
    pub async fn list_by_type(
        &self,
        principal: &Principal,
        integration_type: IntegrationType,
        cursor: Option<crate::page::Cursor>,
        limit: Option<u32>,
    ) -> Result<Page<Integration>> {
        let query = ListQuery {
            filter: ListFilter {
                integration_type: Some(integration_type),
                ..ListFilter::default()
            },
            cursor,
            limit,
        };
        self.list(principal, &query).await
    }

    /// Edits an integration read at `expected_version`. A change of base_url, auth_ref,
    /// provider or configuration sends a verified integration back to verification.
    pub async fn update(
        &self,
        principal: &Principal,
        id: IntegrationId,
        expected_version: u64,
        patch: &IntegrationPatch,
    ) -> Result<Integration> {
        self.update_noted(
            principal,
            id,
            expected_version,
            patch,
            &ChangeNote::default(),
        )
        .await
    }

    /// [`update`](Self::update), with a ticket and reason for the audit entry.
    #[instrument(name = "catalog.update", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "update"))]
    pub(crate) async fn update_noted(
        &self,
        principal: &Principal,
        id: IntegrationId,
        expected_version: u64,
        patch: &IntegrationPatch,
        note: &ChangeNote,
    ) -> Result<Integration> {
        principal.require(Scope::IntegrationsAdmin)?;
        let mut integration = self.load(principal, id).await?;
        record_provider(&integration);
        check_version(&integration, expected_version)?;
        let outcome = integration.apply_patch(patch)?;
        let mut changes = outcome.changes;
        let mut reset_failures = false;
        if outcome.connection_changed {
            check_integration_refs(
                &self.inner.auth_refs,
                &principal.tenant,
                integration.auth_ref.as_ref(),
                &integration.configuration,
            )?;
            if let Some(connector) = self.connector(&integration.provider) {
                connector
                    .validate_config(&integration.configuration)
                    .await?;
            }
            let before = integration.status;
            let t = transition(
                integration.lifecycle_state(),
                LifecycleEvent::ConnectionChanged,
                &self.inner.policy,
            )?;
            integration.apply_transition(&t);
            reset_failures = t.from.consecutive_failures != t.to.consecutive_failures;
            if before != integration.status {
                changes.push(FieldChange::new("status", &before, &integration.status));
            }
        }
        let changed: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        let data = json!({ "changed": changed, "status": integration.status });
        self.touch(&mut integration, principal);
        let mut mutation = self.update_mutation(
            principal,
            integration,
            expected_version,
            AuditParts::new(AuditAction::Updated, changes).noted(note),
            &[(EventType::Updated, data)],
        );
        if reset_failures {
            set_write_health(&mut mutation);
        }
        self.commit(mutation, "update").await
    }

    /// Soft-deletes an integration read at `expected_version`.
    pub async fn delete(
        &self,
        principal: &Principal,
        id: IntegrationId,
        expected_version: u64,
    ) -> Result<()> {
        self.delete_noted(principal, id, expected_version, &ChangeNote::default())
            .await
    }

    /// [`delete`](Self::delete), with a ticket and reason for the audit entry.
    #[instrument(name = "catalog.delete", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "delete"))]
    pub(crate) async fn delete_noted(
        &self,
        principal: &Principal,
        id: IntegrationId,
        expected_version: u64,
        note: &ChangeNote,
    ) -> Result<()> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        record_provider(&integration);
        check_version(&integration, expected_version)?;
        self.lifecycle_change(principal, integration, DELETE, |_, audit, _| {
            audit.ticket = note.ticket.clone();
            audit.reason = note.reason.clone();
        })
        .await?;
        Ok(())
    }

    /// Submits a draft for verification.
    #[instrument(name = "catalog.submit", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "submit"))]
    pub async fn submit_for_verification(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<Integration> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        record_provider(&integration);
        self.lifecycle_change(principal, integration, SUBMIT, |_, _, _| {})
            .await
    }

    /// Activates a verified pending integration; the principal is recorded as the approver.
    /// Refused for an integration that has not passed a connection test. When the policy
    /// requires approval, the approver must be someone other than the integration's creator
    /// and its last modifier ([`Error::SelfApproval`]) unless the catalog was built
    /// [`with_self_approval`](super::CatalogBuilder::with_self_approval).
    #[instrument(name = "catalog.activate", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "activate"))]
    pub async fn activate(&self, principal: &Principal, id: IntegrationId) -> Result<Integration> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        record_provider(&integration);
        let approver = principal.actor.clone();
        // An activation the lifecycle refuses anyway says so first.
        transition(
            integration.lifecycle_state(),
            LifecycleEvent::Activate,
            &self.inner.policy,
        )?;
        if self.inner.policy.require_approval
            && !self.inner.self_approval
            && (integration.created_by == approver || integration.modified_by == approver)
        {
            return Err(Error::SelfApproval {
                actor: approver.to_string(),
            });
        }
        self.lifecycle_change(principal, integration, ACTIVATE, |_, audit, data| {
            data.insert("approver".to_owned(), json!(approver));
            audit.approver = Some(approver);
        })
        .await
    }

    /// Pauses an integration: it is no longer contacted until resumed. `reason` is required;
    /// `ticket` names the change ticket, if any.
    #[instrument(name = "catalog.pause", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "pause"))]
    pub async fn pause(
        &self,
        principal: &Principal,
        id: IntegrationId,
        reason: &str,
        ticket: Option<&str>,
    ) -> Result<Integration> {
        principal.require(Scope::IntegrationsAdmin)?;
        let reason = operator_text("reason", reason)?;
        let ticket = ticket.map(|t| operator_text("ticket", t)).transpose()?;
        let integration = self.load(principal, id).await?;
        record_provider(&integration);
        self.lifecycle_change(principal, integration, PAUSE, |integration, audit, data| {
            integration.pause_reason = Some(reason.clone());
            integration.pause_ticket = ticket.clone();
            data.insert("reason".to_owned(), json!(reason));
            data.insert("ticket".to_owned(), json!(ticket));
            audit.reason = Some(reason);
            audit.ticket = ticket;
        })
        .await
    }

    /// Resumes a paused integration and checks it at once: a verified integration comes back
    /// Active (and the check result applies), an unverified one goes back to verification.
    /// The returned report holds the integration after that first check.
    pub async fn resume(
        &self,
        principal: &Principal,
        id: IntegrationId,
    ) -> Result<super::TestReport> {
        self.resume_noted(principal, id, &ChangeNote::default())
            .await
    }

    /// [`resume`](Self::resume), with a ticket and reason for the resume's audit entry.
    #[instrument(name = "catalog.resume", skip_all, fields(tenant_id = %principal.tenant, integration_id = %id, provider, action = "resume"))]
    pub(crate) async fn resume_noted(
        &self,
        principal: &Principal,
        id: IntegrationId,
        note: &ChangeNote,
    ) -> Result<super::TestReport> {
        principal.require(Scope::IntegrationsAdmin)?;
        let integration = self.load(principal, id).await?;
        record_provider(&integration);
        let resumed = self
            .lifecycle_change(principal, integration, RESUME, |_, audit, _| {
                audit.ticket = note.ticket.clone();
                audit.reason = note.reason.clone();
            })
            .await?;
        // The monitor checks resumed integrations before anything else that is due. The
        // schedule is advisory: a store without scheduling still resumes.
        match self
            .inner
            .store
            .schedule_check(&principal.tenant, id, time::OffsetDateTime::UNIX_EPOCH)
            .await
        {
            Ok(()) | Err(Error::Unsupported { .. }) => {}
            Err(e) => return Err(e),
        }
        self.run_check(principal, resumed, crate::health::CheckKind::ConnectionTest)
            .await
    }

    /// Audit entries about one integration, oldest first (at most 1,000; page with
    /// [`Catalog::audit_query`]).
    pub async fn audit(&self, principal: &Principal, id: IntegrationId) -> Result<Vec<AuditEntry>> {
        self.audit_query(principal, &AuditQuery::for_integration(id))
            .await
    }

    /// Audit entries of the principal's tenant matching `query`.
    #[instrument(name = "catalog.audit", skip_all, fields(tenant_id = %principal.tenant, action = "audit"))]
    pub async fn audit_query(
        &self,
        principal: &Principal,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>> {
        principal.require(Scope::IntegrationsRead)?;
        self.inner.store.audit(&principal.tenant, query).await
    }

    /// Discovers plugins: records the compiled-in connectors and what the
    /// [`PluginSource`](crate::plugin::PluginSource) finds in `plugin_metadata`, serves checks
    /// through the plugins that are ready from now on (see [`crate::plugin`] for which
    /// connector wins), and returns every stored plugin. A plugin recorded earlier that the
    /// source no longer finds is kept, disabled. Admin call; run it at start-up and whenever
    /// plugins change.
    #[instrument(name = "catalog.discover_plugins", skip_all, fields(tenant_id = %principal.tenant, action = "discover_plugins"))]
    pub async fn discover_plugins(&self, principal: &Principal) -> Result<Vec<PluginMetadata>> {
        principal.require(Scope::IntegrationsAdmin)?;
        let now = self.now();
        let mut found = match &self.inner.plugins {
            Some(source) => source.discover().await?,
            None => Vec::new(),
        };
        found.sort_by(|a, b| a.metadata.descriptor.id.cmp(&b.metadata.descriptor.id));
        let builtin = &self.inner.connectors;
        let mut serving = BTreeMap::new();
        let mut served_by: BTreeMap<Provider, String> = BTreeMap::new();
        let mut rows = Vec::with_capacity(found.len() + builtin.len());
        for plugin in found {
            let mut row = plugin.metadata;
            row.discovered_at = now;
            let id = row.descriptor.id.clone();
            let provider = row.descriptor.provider.clone();
            let refusal = if let Some(other) = served_by.get(&provider) {
                Some(format!(
                    "{provider} is already served by the plugin {other}"
                ))
            } else if builtin.get(&provider).is_some()
                && !self.inner.plugin_overrides.contains(&provider)
            {
                Some(format!(
                    "{provider} is served by the compiled-in connector; the operator has not let \
                     this plugin override it"
                ))
            } else {
                None
            };
            match (refusal, plugin.connector) {
                (Some(reason), _) => {
                    if row.state == PluginState::Ready {
                        row.state = PluginState::Disabled { reason };
                    }
                }
                (None, Some(connector)) if row.state != PluginState::Ready => {
                    // A quarantined plugin keeps its provider, answering with the reason.
                    if matches!(row.state, PluginState::Quarantined { .. }) {
                        served_by.insert(provider.clone(), id);
                        serving.insert(provider, connector);
                    }
                }
                (None, Some(connector)) => {
                    served_by.insert(provider.clone(), id);
                    serving.insert(provider, connector);
                }
                (None, None) => {
                    if row.state == PluginState::Ready {
                        row.state = PluginState::Disabled {
                            reason: "the plugin source offered no connector for it".into(),
                        };
                    }
                }
            }
            rows.push(row);
        }
        for descriptor in builtin.descriptors() {
            let mut row = PluginMetadata::builtin(descriptor, now);
            if let Some(plugin) = served_by.get(&row.descriptor.provider) {
                row.state = PluginState::Disabled {
                    reason: format!("overridden by the plugin {plugin}"),
                };
            }
            rows.push(row);
        }
        let current: BTreeSet<String> = rows.iter().map(|r| r.descriptor.id.clone()).collect();
        for stale in self.inner.store.list_plugins().await? {
            if stale.path.is_some() && !current.contains(&stale.descriptor.id) {
                rows.push(stale.with_state(PluginState::Disabled {
                    reason: "not found by the last discovery".into(),
                }));
            }
        }
        self.inner.store.upsert_plugins(&rows).await?;
        let ready = serving.len();
        self.set_plugin_connectors(serving);
        tracing::info!(plugins = ready, "plugins discovered");
        self.inner.store.list_plugins().await
    }

    /// Every plugin recorded in `plugin_metadata` (by the last discovery), without
    /// discovering again.
    #[instrument(name = "catalog.plugins", skip_all, fields(tenant_id = %principal.tenant, action = "plugins"))]
    pub async fn plugins(&self, principal: &Principal) -> Result<Vec<PluginMetadata>> {
        principal.require(Scope::IntegrationsRead)?;
        self.inner.store.list_plugins().await
    }

    /// Applies a lifecycle event that needs no extra data, audited as `action` with a status
    /// diff, and emits `event_type`.
    async fn lifecycle_change(
        &self,
        principal: &Principal,
        mut integration: Integration,
        step: Step,
        customize: impl FnOnce(&mut Integration, &mut AuditParts, &mut serde_json::Map<String, Value>),
    ) -> Result<Integration> {
        let expected_version = integration.version;
        let before = integration.status;
        let t = transition(
            integration.lifecycle_state(),
            step.event,
            &self.inner.policy,
        )?;
        integration.apply_transition(&t);
        self.touch(&mut integration, principal);
        let mut audit = AuditParts::new(
            step.action,
            vec![FieldChange::new("status", &before, &t.to.status)],
        );
        let mut data = serde_json::Map::new();
        data.insert("status".to_owned(), json!(t.to.status));
        data.insert("previous_status".to_owned(), json!(before));
        customize(&mut integration, &mut audit, &mut data);
        let mut mutation = self.update_mutation(
            principal,
            integration,
            expected_version,
            audit,
            &[(step.event_type, Value::Object(data))],
        );
        if t.from.consecutive_failures != t.to.consecutive_failures {
            set_write_health(&mut mutation);
        }
        self.commit(mutation, step.metric).await
    }

    fn touch(&self, integration: &mut Integration, principal: &Principal) {
        integration.modified_at = self.now();
        integration.modified_by = principal.actor.clone();
    }
}

/// Makes an update write the health fields too (a transition reset the failure count).
fn set_write_health(mutation: &mut Mutation) {
    if let Change::Update { write_health, .. } = &mut mutation.change {
        *write_health = true;
    }
}

fn check_version(integration: &Integration, expected_version: u64) -> Result<()> {
    if integration.version == expected_version {
        Ok(())
    } else {
        Err(Error::Conflict {
            kind: ResourceKind::Integration,
            id: integration.id.to_string(),
            expected: expected_version,
            actual: Some(integration.version),
        })
    }
}
