//! Provisioning through the catalog: [`Catalog::plan`], [`Catalog::apply`] and
//! [`Catalog::export`] (the pure part is [`crate::provision`]).

use serde::Serialize;
use tracing::instrument;

use super::{Catalog, ChangeNote, Principal, Scope, operator_text};
use crate::error::{Error, ResourceKind, Result};
use crate::id::IntegrationId;
use crate::integration::Integration;
use crate::page::{ListFilter, ListQuery};
use crate::provision::{Manifest, ManifestError, Plan, PlanOptions, Step, StepKind, plan};

/// How [`Catalog::apply`] records its changes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// The change ticket, recorded in every audit entry the apply writes.
    pub ticket: Option<String>,
    /// Why, recorded likewise (pauses record their own reason).
    pub reason: Option<String>,
}

impl ApplyOptions {
    /// No ticket, no reason.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `ticket` in every audit entry.
    pub fn with_ticket(mut self, ticket: impl Into<String>) -> Self {
        self.ticket = Some(ticket.into());
        self
    }

    /// Records `reason` in every audit entry.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// How far an apply has got: `done` of `total` changing steps, reported before the first
/// and after each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyProgress {
    /// Steps carried out.
    pub done: usize,
    /// Steps that change something.
    pub total: usize,
}

/// One step carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Applied {
    /// What was done.
    pub kind: StepKind,
    /// The integration's name.
    pub name: String,
    /// Its id.
    pub id: IntegrationId,
    /// Its version afterwards (absent after a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// What [`Catalog::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The steps carried out, in plan order.
    pub applied: Vec<Applied>,
    /// Steps that had nothing to do.
    pub unchanged: usize,
}

/// An apply stopped: before its first step (the plan is not this principal's to apply), or at
/// a step. The steps before it are applied (each is its own catalog change); none after it
/// ran. A [`stale`](Self::is_stale) step means the plan is out of date: plan again.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(self))]
pub struct ApplyError {
    /// What had been applied.
    pub done: ApplyReport,
    /// The step that failed and its integration's name (`None`: refused before any step).
    pub step: Option<(StepKind, String)>,
    /// Why.
    #[source]
    pub source: Error,
}

fn describe(e: &ApplyError) -> String {
    match &e.step {
        Some((kind, name)) => format!(
            "cannot apply the {kind} of `{name}` ({} steps applied before it)",
            e.done.applied.len()
        ),
        None => "cannot apply the plan".to_owned(),
    }
}

impl ApplyError {
    /// The integration changed since the plan (or a name planned for creation exists now).
    pub fn is_stale(&self) -> bool {
        matches!(
            self.source,
            Error::Conflict { .. } | Error::AlreadyExists { .. }
        )
    }
}

impl Catalog {
    /// Every live integration of the principal's tenant, in (name, id) order.
    pub async fn list_all(&self, principal: &Principal) -> Result<Vec<Integration>> {
        self.list_matching(principal, &ListFilter::default()).await
    }

    /// Every live integration of the principal's tenant matching `filter`, in (name, id)
    /// order.
    pub async fn list_matching(
        &self,
        principal: &Principal,
        filter: &ListFilter,
    ) -> Result<Vec<Integration>> {
        let mut all = Vec::new();
        let mut query = ListQuery::new(filter.clone()).with_limit(ListQuery::MAX_LIMIT);
        loop {
            let page = self.list(principal, &query).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(cursor) => query = query.after(cursor),
                None => return Ok(all),
            }
        }
    }

    /// The principal's integrations as a manifest (for promotion or review), only those
    /// matching `filter`.
    #[instrument(name = "catalog.export", skip_all, fields(tenant_id = %principal.tenant, action = "export"))]
    pub async fn export(&self, principal: &Principal, filter: &ListFilter) -> Result<Manifest> {
        Ok(Manifest::from_integrations(
            &self.list_matching(principal, filter).await?,
        ))
    }

    /// Plans `manifest` against the principal's tenant, checking its references against the
    /// catalog's policy (see [`crate::provision::plan`]).
    ///
    /// # Errors
    ///
    /// A store failure is the outer [`Error`]; a refused manifest (an invalid entry, a
    /// reference the policy refuses for this tenant, a type change) is the inner
    /// [`ManifestError`], naming the field.
    #[instrument(name = "catalog.plan", skip_all, fields(tenant_id = %principal.tenant, action = "plan"))]
    pub async fn plan(
        &self,
        principal: &Principal,
        manifest: &Manifest,
        prune: bool,
    ) -> Result<std::result::Result<Plan, ManifestError>> {
        let current = self.list_all(principal).await?;
        let options = PlanOptions::new(principal.tenant.clone())
            .with_prune(prune)
            .with_auth_ref_policy(self.inner.auth_refs.clone());
        Ok(plan(&current, manifest, &options))
    }

    /// Carries out `plan` through the catalog, step by step in plan order: each step is one
    /// catalog change with its audit entry (recording `options`' ticket and reason) and events,
    /// under the principal's scopes and the reference policy. A step whose integration's
    /// version moved since the plan is refused ([`Error::Conflict`]), as is a create whose
    /// name exists by now ([`Error::AlreadyExists`]); nothing is overwritten. Stops at the
    /// first failing step.
    pub async fn apply(
        &self,
        principal: &Principal,
        plan: &Plan,
        options: &ApplyOptions,
    ) -> std::result::Result<ApplyReport, ApplyError> {
        self.apply_with_progress(principal, plan, options, &|_| {})
            .await
    }

    /// [`apply`](Self::apply), calling `progress` before the first change and after each.
    #[instrument(name = "catalog.apply", skip_all, fields(tenant_id = %principal.tenant, action = "apply"))]
    pub async fn apply_with_progress(
        &self,
        principal: &Principal,
        plan: &Plan,
        options: &ApplyOptions,
        progress: &(dyn Fn(ApplyProgress) + Send + Sync),
    ) -> std::result::Result<ApplyReport, ApplyError> {
        let mut report = ApplyReport::default();
        let fail = |report: &ApplyReport, step: &Step, source: Error| ApplyError {
            done: report.clone(),
            step: Some((step.kind, step.name.clone())),
            source,
        };
        let note = note(principal, plan, options).map_err(|source| ApplyError {
            done: ApplyReport::default(),
            step: None,
            source,
        })?;
        let total = plan.changes().count();
        progress(ApplyProgress { done: 0, total });
        for step in &plan.steps {
            if step.kind == StepKind::Unchanged {
                report.unchanged += 1;
                continue;
            }
            match self.apply_step(principal, step, &note).await {
                Ok(applied) => report.applied.push(applied),
                Err(e) => return Err(fail(&report, step, e)),
            }
            progress(ApplyProgress {
                done: report.applied.len(),
                total,
            });
        }
        Ok(report)
    }

    async fn apply_step(
        &self,
        principal: &Principal,
        step: &Step,
        note: &ChangeNote,
    ) -> Result<Applied> {
        let applied = |i: &Integration| Applied {
            kind: step.kind,
            name: step.name.clone(),
            id: i.id,
            version: Some(i.version),
        };
        if step.kind == StepKind::Create {
            let spec = step.spec.as_ref().ok_or_else(|| malformed(step, "spec"))?;
            let input = spec.to_new_integration()?;
            let created = self.create_noted(principal, input, true, note).await?;
            return match spec.pause_reason() {
                Some(reason) => {
                    let paused = self
                        .pause(principal, created.id, reason, note.ticket.as_deref())
                        .await?;
                    Ok(applied(&paused))
                }
                None => Ok(applied(&created)),
            };
        }
        let id = step.id.ok_or_else(|| malformed(step, "id"))?;
        let version = step.version.ok_or_else(|| malformed(step, "version"))?;
        match step.kind {
            StepKind::Update => {
                let patch = step
                    .patch
                    .as_ref()
                    .ok_or_else(|| malformed(step, "patch"))?;
                let updated = self
                    .update_noted(principal, id, version, patch, note)
                    .await?;
                Ok(applied(&updated))
            }
            StepKind::Delete => {
                self.delete_noted(principal, id, version, note).await?;
                Ok(Applied {
                    kind: step.kind,
                    name: step.name.clone(),
                    id,
                    version: None,
                })
            }
            StepKind::Pause | StepKind::Resume => {
                // Neither takes a version: check it here, so that a plan never pauses or
                // resumes an integration someone changed since.
                let current = self.get(principal, id).await?;
                if current.version != version {
                    return Err(Error::Conflict {
                        kind: ResourceKind::Integration,
                        id: id.to_string(),
                        expected: version,
                        actual: Some(current.version),
                    });
                }
                if step.kind == StepKind::Pause {
                    let reason = step
                        .reason
                        .as_deref()
                        .unwrap_or(crate::provision::DEFAULT_PAUSE_REASON);
                    let paused = self
                        .pause(principal, id, reason, note.ticket.as_deref())
                        .await?;
                    Ok(applied(&paused))
                } else {
                    let report = self.resume_noted(principal, id, note).await?;
                    Ok(applied(&report.integration))
                }
            }
            StepKind::Create | StepKind::Unchanged => unreachable!("handled above"),
        }
    }
}

/// The audit note of an apply, after checking the principal may apply `plan` at all.
fn note(principal: &Principal, plan: &Plan, options: &ApplyOptions) -> Result<ChangeNote> {
    principal.require(Scope::IntegrationsAdmin)?;
    if plan.tenant != principal.tenant {
        return Err(Error::InvalidConfig {
            message: format!(
                "the plan is for tenant {}, not {}",
                plan.tenant, principal.tenant
            ),
        });
    }
    if plan.schema != crate::provision::PLAN_VERSION {
        return Err(Error::InvalidConfig {
            message: format!(
                "unsupported plan schema; expected {}",
                crate::provision::PLAN_VERSION
            ),
        });
    }
    Ok(ChangeNote {
        ticket: options
            .ticket
            .as_deref()
            .map(|t| operator_text("ticket", t))
            .transpose()?,
        reason: options
            .reason
            .as_deref()
            .map(|r| operator_text("reason", r))
            .transpose()?,
    })
}

fn malformed(step: &Step, field: &str) -> Error {
    Error::InvalidConfig {
        message: format!("the {} step of `{}` has no {field}", step.kind, step.name),
    }
}
