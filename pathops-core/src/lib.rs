//! # pathops-core
//!
//! The domain of PathOps, an embeddable, tenant-scoped catalog of the external tools a delivery
//! platform talks to (SCM, registries, CI, GitOps, object storage, hosts, feeds). This crate
//! holds the types, the lifecycle and the contracts; it performs no network or database I/O and
//! depends on no HTTP client, SQL driver or TLS stack.
//!
//! | module | what lives there |
//! |---|---|
//! | [`id`] | [`IntegrationId`] (UUID v7), [`TenantId`], [`ActorId`] |
//! | [`provider`] | [`IntegrationType`], [`Provider`] |
//! | [`integration`], [`fields`] | the [`Integration`] entity, [`NewIntegration`], [`IntegrationPatch`] and validated field types |
//! | [`lifecycle`] | the pure [`transition`](lifecycle::transition) function and [`HealthPolicy`] |
//! | [`auth_ref`], [`secret`] | [`AuthRef`] and the [`SecretResolver`] trait with built-in resolvers |
//! | [`connector`] | [`IntegrationConnector`], [`Capabilities`], [`CheckResult`], [`ConnectorRegistry`] |
//! | [`store`], [`page`], [`health`], [`audit`], [`event`] | the [`CatalogStore`] contract and the records it keeps |
//! | [`clock`] | [`Clock`], [`SystemClock`] |
//! | [`error`], [`validate`] | [`Error`], the one public error enum, and [`ValidationError`] |
//! | [`webhook`] | webhook verification (GitLab, GitHub, Gitea/Forgejo, Standard Webhooks), the replay guard, challenges and the framework-agnostic [`WebhookReceiver`](webhook::WebhookReceiver) |
//! | [`provision`] | catalog manifests (`pathops.catalog/v1`), [`plan`](provision::plan) and promotion; `Catalog::apply` with `runtime` |
//! | [`directping`] | the PathOps direct-ping protocol (both directions) |
//! | [`plugin`] | [`PluginSource`](plugin::PluginSource): connectors found at run time (out-of-process plugins), and which connector serves a provider |
//! | [`received`] | the consumer side: [`ReceivedEvent`] read back from a bus, unknown future event types included |
//! | `catalog` (feature `runtime`) | the `Catalog` service: scopes, the auth ref policy, audit, events, checks |
//! | `doctor` (feature `runtime`) | the `Doctor`: every integration checked both ways, findings, the `pathops.doctor/v1` report |
//! | `monitor` (feature `runtime`) | the `HealthMonitor`: scheduled checks with leases, jitter, retention |
//! | `relay` (feature `runtime`) | the outbox relay and the `EventSink` contract |
//!
//! Implementations live elsewhere: store backends in `pathops-store`, provider connectors in
//! `pathops-connectors`, deterministic doubles and the conformance suites in `pathops-testkit`.
//!
//! ## Quick start: an integration through its lifecycle
//!
//! ```
//! use pathops_core::lifecycle::{transition, LifecycleEvent};
//! use pathops_core::{HealthPolicy, Integration, IntegrationId, IntegrationStatus, NewIntegration, Provider};
//! use time::macros::datetime;
//!
//! let input = NewIntegration::builder("GitLab prod", Provider::GitLab, "https://gitlab.example.com")
//!     .with_auth_ref("ref://acme/gitlab/ci-token")
//!     .with_environment("production")
//!     .build()?;
//! let mut gitlab = Integration::new_draft(
//!     IntegrationId::new(),
//!     "acme".parse()?,
//!     input,
//!     "alice@example.com".parse()?,
//!     datetime!(2026-11-21 09:00 UTC),
//! );
//!
//! let policy = HealthPolicy::default(); // degrade after 3 failures, fail after 5
//! for event in [LifecycleEvent::Submit, LifecycleEvent::CheckPassed] {
//!     let t = transition(gitlab.lifecycle_state(), event, &policy)?;
//!     gitlab.apply_transition(&t);
//! }
//! assert_eq!(gitlab.status, IntegrationStatus::Active);
//!
//! // Three failed checks in a row degrade it; one success brings it back.
//! for _ in 0..3 {
//!     let t = transition(gitlab.lifecycle_state(), LifecycleEvent::CheckFailed, &policy)?;
//!     gitlab.apply_transition(&t);
//! }
//! assert_eq!(gitlab.status, IntegrationStatus::Degraded);
//! let t = transition(gitlab.lifecycle_state(), LifecycleEvent::CheckPassed, &policy)?;
//! gitlab.apply_transition(&t);
//! assert_eq!((gitlab.status, gitlab.consecutive_failures), (IntegrationStatus::Active, 0));
//!
//! // Illegal events are typed errors naming both sides.
//! let err = transition(gitlab.lifecycle_state(), LifecycleEvent::Submit, &policy).unwrap_err();
//! assert_eq!(err.to_string(), "cannot submit an integration that is active (only a draft can be submitted)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `runtime` | **on** | the `catalog`, `doctor`, `monitor` and `relay` modules (they need tokio's timer, channels and blocking pool); without it the crate is the pure domain |
//!
//! ## Adding a connector or a store backend
//!
//! Implement [`IntegrationConnector`] (or [`CatalogStore`]) in your own crate or module, register
//! it ([`ConnectorRegistry::register`]), and run the conformance suite of `pathops-testkit` from
//! your `tests/`. Nothing in this crate needs editing: there is no `match` over providers or
//! backends to extend.
//!
//! ## Secrets
//!
//! No type here holds a raw secret except [`secrecy::SecretString`], which never prints. An
//! [`Integration`] keeps only an [`AuthRef`]; validation errors never echo the rejected input.
//!
//! ## Security model
//!
//! The embedding operator is trusted: the process, its configuration and its secret backends.
//! Tenant admins, the tools and plugins are not; every URL, reference, configuration value and
//! response they supply is adversarial input. Within that model this crate guarantees:
//!
//! - **Tenant isolation.** Every [`Catalog`](catalog::Catalog) operation derives the tenant
//!   from its [`Principal`](catalog::Principal); no argument reaches another tenant.
//! - **References stay within their tenant.** The catalog's
//!   [`AuthRefPolicy`](secret::AuthRefPolicy) (on by default) decides which references a
//!   tenant's integrations may hold: `auth_ref` and every `*_ref` configuration key are
//!   checked on create and update (a [`ValidationError`] naming the field) and again before
//!   every resolve (a failed check, `auth_ref_denied`), so a row written before the policy
//!   existed cannot leak either. Resolvers receive a [`ResolveContext`](secret::ResolveContext)
//!   naming the tenant, integration, provider and purpose.
//! - **Evidence is earned.** Recording a result obtained elsewhere
//!   ([`record_health`](catalog::Catalog::record_health)) needs
//!   [`Scope::IntegrationsSystem`](catalog::Scope::IntegrationsSystem), which admins lack;
//!   with [`HealthPolicy::require_approval`], the approver must be someone other than the
//!   creator and the last modifier ([`Error::SelfApproval`]).
//! - **Bounded work per tenant.** The health monitor raises a tenant's
//!   `health_check_interval_secs` to [`MonitorConfig::min_interval`](monitor::MonitorConfig::min_interval).
//! - **Webhooks are verified before anything else** (body cap, constant-time comparison,
//!   signature before parsing, replay keys from what the signature covers), and only a
//!   verified delivery can mark a challenge rejected.
//! - **Tool text is inert.** [`doctor::terminal_safe`] escapes control characters before a
//!   renderer prints tool-supplied text; suggested shell commands are quoted.
//!
//! Network-side guarantees (credentials only to their integration's origin, no plain `http`
//! except to loopback, private addresses and tenant proxies refused) live in
//! `pathops-connectors`' `HttpPolicy`, whose `multi_tenant()` preset is the starting point for
//! an embedder serving many tenants.

#![cfg_attr(docsrs, feature(doc_cfg))]
pub mod audit;
pub mod auth_ref;
#[cfg(feature = "runtime")]
pub mod catalog;
pub mod clock;
pub mod connector;
pub mod directping;
#[cfg(feature = "runtime")]
pub mod doctor;
pub mod error;
pub mod event;
pub mod fields;
pub mod finding;
pub mod health;
pub mod id;
pub mod integration;
pub mod lifecycle;
#[cfg(feature = "runtime")]
pub mod monitor;
pub mod page;
pub mod plugin;
pub mod provider;
pub mod provision;
pub mod received;
#[cfg(feature = "runtime")]
pub mod relay;
pub mod secret;
pub mod store;
pub mod validate;
pub mod webhook;

pub use audit::{AuditAction, AuditEntry, AuditRecord};
pub use auth_ref::{AuthRef, AuthRefError};
pub use clock::{Clock, SystemClock};
pub use connector::{
    Capabilities, Capability, CheckResult, ConnectorContext, ConnectorRegistry, DeliveryRequest,
    FailureCode, IntegrationConnector, PluginDescriptor, Probe, TriggerLimit,
};
pub use error::{Error, ResourceKind, Result};
pub use event::{EventEnvelope, EventType};
pub use fields::{BaseUrl, Configuration, Description, Environment, IntegrationName, Tags};
pub use finding::{Finding, Severity};
pub use health::{HealthCheckRecord, HealthStatus, HealthSummary, TimeRange};
pub use id::{ActorId, IntegrationId, TenantId};
pub use integration::{FieldChange, Integration, IntegrationPatch, NewIntegration};
pub use lifecycle::{HealthPolicy, IntegrationStatus, InvalidTransition, LifecycleEvent};
pub use page::{Cursor, ListFilter, ListQuery, Page, Unreadable};
pub use provider::{IntegrationType, Provider};
pub use received::ReceivedEvent;
pub use secret::SecretResolver;
pub use store::{CatalogStore, Change, Mutation, MutationOutcome};
pub use validate::{Problem, ValidationError};

/// Re-exported so callers name the same `SecretString` PathOps uses.
pub use secrecy;

#[cfg(test)]
mod object_safety {
    //! Compile-time guard: every public trait stays usable as `dyn Trait`.
    use super::*;

    #[allow(dead_code)]
    fn assert_object_safe(
        _: &dyn IntegrationConnector,
        _: &dyn SecretResolver,
        _: &dyn CatalogStore,
        _: &dyn Clock,
        _: &dyn plugin::PluginSource,
    ) {
    }

    #[cfg(feature = "runtime")]
    #[allow(dead_code)]
    fn assert_runtime_traits_object_safe(_: &dyn crate::relay::EventSink) {}
}
