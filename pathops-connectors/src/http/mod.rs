//! The shared HTTP policy of every connector.
//!
//! - [`HttpPolicy`]: timeouts, body cap, user agent, proxy, extra roots, [`EgressPolicy`],
//!   offline mode; [`IntegrationHttp`]: the per-integration proxy and CA.
//! - [`HttpClient`]: one reqwest client per distinct configuration; the check's deadline always
//!   bounds the request timeout; redirects are followed only within the same origin, so
//!   credentials (including custom headers such as `PRIVATE-TOKEN`, which reqwest does not
//!   strip) never reach another host.
//! - [`TransportError`]: transport failures with their [`FailureCode`](pathops_core::FailureCode).
//! - [`status`]: helpers the per-provider classifiers share (`Retry-After`, default mapping).

mod client;
mod egress;
mod error;
mod policy;
pub mod status;

pub use client::{HttpClient, HttpRequest, HttpResponse};
pub use egress::is_internal_address;
pub use error::TransportError;
pub use policy::{EgressPolicy, HttpPolicy, IntegrationHttp};
