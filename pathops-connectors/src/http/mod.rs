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

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` as one URL path segment: every character but the unreserved ones
/// percent-encoded, `/` included (GitLab's `group%2Fproject`, a repository or bucket name
/// that must not add a path level). The one encoder connectors and their fixes use.
pub fn path_segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_segment_encodes_everything_but_the_unreserved_characters() {
        assert_eq!(super::path_segment("group/sub/app"), "group%2Fsub%2Fapp");
        assert_eq!(super::path_segment("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::path_segment("x y?#%"), "x%20y%3F%23%25");
        assert_eq!(super::path_segment("ü"), "%C3%BC");
    }
}
