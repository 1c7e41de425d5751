//! [`plan`]: what it takes to bring a tenant's integrations to a manifest.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{ManifestError, ManifestProblem};
use super::manifest::{IntegrationSpec, Manifest};
use crate::id::{IntegrationId, TenantId};
use crate::integration::{FieldChange, Integration, IntegrationPatch, NewIntegration};
use crate::secret::{AuthRefPolicy, configuration_refs};
use crate::validate::Problem;

/// The schema name of a serialized [`Plan`].
pub const PLAN_VERSION: &str = "pathops.plan/v1";

/// How to plan.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlanOptions {
    /// The tenant the plan is for (it applies to that tenant only).
    pub tenant: TenantId,
    /// Delete integrations the manifest does not name (default: keep them).
    pub prune: bool,
    /// Check every reference against this policy for `tenant` while planning (the catalog
    /// checks again when applying).
    pub auth_refs: Option<AuthRefPolicy>,
}

impl PlanOptions {
    /// Plans for `tenant`, keeping what the manifest does not name, without a reference
    /// policy check.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            prune: false,
            auth_refs: None,
        }
    }

    /// Deletes what the manifest does not name.
    pub fn with_prune(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }

    /// Checks references against `policy` while planning.
    pub fn with_auth_ref_policy(mut self, policy: AuthRefPolicy) -> Self {
        self.auth_refs = Some(policy);
        self
    }
}

/// What one step of a [`Plan`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A new integration, submitted for verification.
    Create,
    /// A field-level edit.
    Update,
    /// Nothing to do.
    Unchanged,
    /// A pause (the manifest says `paused: true`).
    Pause,
    /// A resume (the manifest no longer says `paused`); the catalog checks it at once.
    Resume,
    /// A soft delete (only with `prune`).
    Delete,
}

impl StepKind {
    /// The stable lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Delete => "delete",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One step of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What it does.
    pub kind: StepKind,
    /// The integration's name.
    pub name: String,
    /// The existing integration (absent for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<IntegrationId>,
    /// The version the step was planned against: applying refuses the step when the
    /// integration's version has moved since (absent for a create). A pause or resume after an
    /// update of the same integration is planned against the update's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// For an update: what changes, field by field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// For an update: the patch that makes those changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<IntegrationPatch>,
    /// For a create: the entry to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<IntegrationSpec>,
    /// For a pause: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Step {
    fn new(kind: StepKind, name: &str, current: Option<&Integration>) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            id: current.map(|i| i.id),
            version: current.map(|i| i.version),
            changes: Vec::new(),
            patch: None,
            spec: None,
            reason: None,
        }
    }
}

/// The steps that bring a tenant's catalog to a manifest, in a deterministic order: by
/// integration name, and for one integration its update before its pause or resume. Made
/// by [`plan`]; serializable (`pathops.plan/v1`) so that it can be reviewed, saved and
/// applied later, when its versions still hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`PLAN_VERSION`].
    pub schema: String,
    /// The tenant the plan applies to.
    pub tenant: TenantId,
    /// Whether integrations the manifest does not name are deleted.
    pub prune: bool,
    /// The steps, unchanged integrations included.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Steps that change something (everything but [`StepKind::Unchanged`]).
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.kind != StepKind::Unchanged)
    }

    /// Whether applying the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes().next().is_none()
    }

    /// How many steps of each kind, in [`StepKind`] order.
    pub fn counts(&self) -> BTreeMap<StepKind, usize> {
        let mut counts = BTreeMap::new();
        for step in &self.steps {
            *counts.entry(step.kind).or_insert(0) += 1;
        }
        counts
    }

    /// One line: `2 to create, 1 to update, 0 to delete, 1 to pause, 0 to resume, 5 unchanged`.
    pub fn summary(&self) -> String {
        let counts = self.counts();
        let n = |k| counts.get(&k).copied().unwrap_or(0);
        format!(
            "{} to create, {} to update, {} to delete, {} to pause, {} to resume, {} unchanged",
            n(StepKind::Create),
            n(StepKind::Update),
            n(StepKind::Delete),
            n(StepKind::Pause),
            n(StepKind::Resume),
            n(StepKind::Unchanged),
        )
    }

    /// The plan as text, one line a step (unchanged ones left out) and a field per line for
    /// updates, then the [`summary`](Self::summary):
    ///
    /// ```text
    /// + create  GitLab (gitlab)
    /// ~ update  Harbor (v3)
    ///     base_url: "https://old.example" -> "https://harbor.example"
    /// - delete  Jenkins (v2)
    /// 1 to create, 1 to update, 1 to delete, 0 to pause, 0 to resume, 4 unchanged
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        for step in self.changes() {
            let sign = match step.kind {
                StepKind::Create => '+',
                StepKind::Update | StepKind::Pause | StepKind::Resume => '~',
                StepKind::Delete => '-',
                StepKind::Unchanged => ' ',
            };
            let at = match (&step.spec, step.version) {
                (Some(spec), _) => format!(" ({})", spec.provider),
                (None, Some(v)) => format!(" (v{v})"),
                (None, None) => String::new(),
            };
            out.push_str(&format!(
                "{sign} {:<8} {}{at}\n",
                step.kind.as_str(),
                step.name
            ));
            for change in &step.changes {
                out.push_str(&format!(
                    "    {}: {} -> {}\n",
                    change.field, change.old, change.new
                ));
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// Plans the steps that bring `current` (the tenant's live integrations) to `manifest`.
/// Integrations are matched by name. Pure: reads nothing, writes nothing.
///
/// # Errors
///
/// A [`ManifestError`] naming the entry's field: an invalid entry, a reference the policy
/// refuses for the tenant, or a provider change to another integration type.
pub fn plan(
    current: &[Integration],
    manifest: &Manifest,
    options: &PlanOptions,
) -> Result<Plan, ManifestError> {
    let inputs = manifest.inputs_checked()?;
    let by_name: BTreeMap<&str, &Integration> =
        current.iter().map(|i| (i.name.as_str(), i)).collect();
    let mut desired: BTreeMap<&str, (usize, &IntegrationSpec, NewIntegration)> = BTreeMap::new();
    for (index, (spec, input)) in manifest.integrations.iter().zip(inputs).enumerate() {
        if let Some(policy) = &options.auth_refs {
            check_refs(policy, &options.tenant, index, &input)?;
        }
        desired.insert(spec.name.as_str(), (index, spec, input));
    }
    let mut names: Vec<&str> = desired.keys().copied().collect();
    if options.prune {
        names.extend(by_name.keys().filter(|n| !desired.contains_key(*n)));
        names.sort_unstable();
    }
    let mut steps = Vec::with_capacity(names.len());
    for name in names {
        match (desired.get(name), by_name.get(name)) {
            (Some((_, spec, _)), None) => {
                let mut step = Step::new(StepKind::Create, name, None);
                step.spec = Some((*spec).clone());
                steps.push(step);
            }
            (Some((index, spec, input)), Some(existing)) => {
                plan_existing(&mut steps, *index, spec, input, existing)?;
            }
            (None, Some(existing)) => steps.push(Step::new(StepKind::Delete, name, Some(existing))),
            (None, None) => {}
        }
    }
    Ok(Plan {
        schema: PLAN_VERSION.to_owned(),
        tenant: options.tenant.clone(),
        prune: options.prune,
        steps,
    })
}

/// The update, pause and resume steps of one existing integration.
fn plan_existing(
    steps: &mut Vec<Step>,
    index: usize,
    spec: &IntegrationSpec,
    input: &NewIntegration,
    existing: &Integration,
) -> Result<(), ManifestError> {
    let patch = full_patch(input);
    let mut version = existing.version;
    let mut changed = false;
    match existing.clone().apply_patch(&patch) {
        Ok(outcome) => {
            let mut step = Step::new(StepKind::Update, &spec.name, Some(existing));
            step.patch = Some(minimal_patch(input, &outcome.changes));
            step.changes = outcome.changes;
            steps.push(step);
            version += 1;
            changed = true;
        }
        Err(e) if e.problem == Problem::NoChanges => {}
        Err(e) if e.problem == Problem::ProviderTypeMismatch => {
            return Err(ManifestError::new(
                format!("integrations[{index}].provider"),
                ManifestProblem::TypeChange,
            ));
        }
        Err(e) => return Err(ManifestError::entry(index, e)),
    }
    let toggle = match (spec.paused, existing.is_paused()) {
        (true, false) => Some(StepKind::Pause),
        (false, true) => Some(StepKind::Resume),
        _ => None,
    };
    if let Some(kind) = toggle {
        let mut step = Step::new(kind, &spec.name, Some(existing));
        step.version = Some(version);
        step.reason = spec
            .pause_reason()
            .filter(|_| kind == StepKind::Pause)
            .map(str::to_owned);
        steps.push(step);
        changed = true;
    }
    if !changed {
        steps.push(Step::new(StepKind::Unchanged, &spec.name, Some(existing)));
    }
    Ok(())
}

/// A patch setting every field of `input`.
fn full_patch(input: &NewIntegration) -> IntegrationPatch {
    IntegrationPatch {
        name: Some(input.name.clone()),
        description: Some(input.description.clone()),
        provider: Some(input.provider.clone()),
        base_url: Some(input.base_url.clone()),
        auth_ref: Some(input.auth_ref.clone()),
        configuration: Some(input.configuration.clone()),
        environment: Some(input.environment.clone()),
        tags: Some(input.tags.clone()),
        owner_id: Some(input.owner_id.clone()),
    }
}

/// The part of [`full_patch`] that `changes` name.
fn minimal_patch(input: &NewIntegration, changes: &[FieldChange]) -> IntegrationPatch {
    let full = full_patch(input);
    let has = |field: &str| changes.iter().any(|c| c.field == field);
    IntegrationPatch {
        name: full.name.filter(|_| has("name")),
        description: full.description.filter(|_| has("description")),
        provider: full.provider.filter(|_| has("provider")),
        base_url: full.base_url.filter(|_| has("base_url")),
        auth_ref: full.auth_ref.filter(|_| has("auth_ref")),
        configuration: full.configuration.filter(|_| has("configuration")),
        environment: full.environment.filter(|_| has("environment")),
        tags: full.tags.filter(|_| has("tags")),
        owner_id: full.owner_id.filter(|_| has("owner_id")),
    }
}

/// The reference policy's verdict on every reference of entry `index`.
fn check_refs(
    policy: &AuthRefPolicy,
    tenant: &TenantId,
    index: usize,
    input: &NewIntegration,
) -> Result<(), ManifestError> {
    let denied = |path: String, e: crate::secret::RefDenied| {
        ManifestError::new(path, ManifestProblem::RefDenied(e.to_string()))
    };
    if let Some(auth_ref) = &input.auth_ref {
        policy
            .check(tenant, auth_ref)
            .map_err(|e| denied(format!("integrations[{index}].auth_ref"), e))?;
    }
    let refs =
        configuration_refs(&input.configuration).map_err(|e| ManifestError::entry(index, e))?;
    for (key, auth_ref) in refs {
        policy
            .check(tenant, &auth_ref)
            .map_err(|e| denied(format!("integrations[{index}].configuration.{key}"), e))?;
    }
    Ok(())
}
