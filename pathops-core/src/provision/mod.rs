//! Provisioning: a tenant's integrations as a manifest, planned and applied like
//! infrastructure as code, and promoted from one environment to another.
//!
//! - A [`Manifest`] (`pathops.catalog/v1`, YAML or JSON) lists integrations by name: provider,
//!   base URL, credential *reference*, configuration (webhook and other references in `*_ref`
//!   keys), environment, tags, owner, description and whether it is paused. It holds
//!   references only: [`Manifest::parse`] refuses anything that looks like a credential, naming
//!   the field and never echoing the value.
//! - [`plan`] compares the tenant's live integrations with a manifest and lists the
//!   [`Step`]s — create, update (a field-level diff), unchanged, pause, resume and, with
//!   [`PlanOptions::prune`], delete — in a deterministic order. It is pure: the caller reads
//!   the current integrations. Each step on an existing integration carries the version it
//!   was planned against.
//! - With the `runtime` feature, `Catalog::plan` reads the tenant and plans, and
//!   `Catalog::apply` carries a plan out through the catalog (scopes, reference policy,
//!   audit entries with the change ticket, events), refusing a step whose integration's
//!   version has moved since the plan ([`Error::Conflict`](crate::Error::Conflict): plan
//!   again), never overwriting. Applying the same manifest twice changes nothing the second
//!   time. `Catalog::export` writes a tenant's integrations as a manifest.
//! - Promotion: export from one tenant or environment, [`Manifest::map_refs`] (prefix
//!   rewrites, `ref://staging/` → `ref://prod/`) and [`Manifest::set`]
//!   (`environment=production`), then plan and apply into the other; the target tenant's
//!   reference policy decides which references are allowed.
//!
//! ```
//! use pathops_core::provision::{plan, Manifest, PlanOptions, StepKind};
//!
//! let mut manifest = Manifest::parse(r#"
//! api_version: pathops.catalog/v1
//! integrations:
//!   - name: Harbor
//!     provider: harbor
//!     base_url: https://harbor.staging.example
//!     auth_ref: ref://staging/harbor/robot
//!     environment: staging
//! "#)?;
//! manifest.map_refs("ref://staging/", "ref://prod/")?;
//! manifest.set("environment", "production")?;
//! let plan = plan(&[], &manifest, &PlanOptions::new("prod".parse()?))?;
//! assert_eq!(plan.steps[0].kind, StepKind::Create);
//! assert_eq!(plan.steps[0].spec.as_ref().unwrap().auth_ref.as_deref(), Some("ref://prod/harbor/robot"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod manifest;
mod plan;
mod secrets;
#[cfg(test)]
mod tests;

pub use error::{ManifestError, ManifestProblem};
pub use manifest::{API_VERSION, DEFAULT_PAUSE_REASON, IntegrationSpec, Manifest};
pub use plan::{PLAN_VERSION, Plan, PlanOptions, Step, StepKind, plan};
pub use secrets::check_configuration;
