//! [`Error`]: the outcomes a caller of PathOps decides on.
//!
//! Each variant is a decision (retry, fix input, ask for a scope, reload and retry, …). Backends
//! keep their own private errors and map them here; the original error stays available through
//! [`std::error::Error::source`] and is never repeated in the message.

use std::time::Duration;

use crate::lifecycle::InvalidTransition;
use crate::validate::ValidationError;

/// A boxed error from a backend (database driver, HTTP client, …).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A specialized `Result` for PathOps operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of thing an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceKind {
    /// An integration.
    Integration,
    /// A secret behind an auth ref.
    Secret,
    /// A connector for a provider.
    Connector,
    /// An outbox event.
    Event,
    /// A webhook challenge.
    Challenge,
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ResourceKind::Integration => "integration",
            ResourceKind::Secret => "secret",
            ResourceKind::Connector => "connector",
            ResourceKind::Event => "event",
            ResourceKind::Challenge => "challenge",
        })
    }
}

/// The public error of every PathOps surface.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing with this id is visible to the caller (missing, deleted or another tenant's).
    #[error("{kind} not found: {id}")]
    NotFound {
        /// What was looked up.
        kind: ResourceKind,
        /// Its id or reference (never a secret).
        id: String,
    },
    /// No secret is stored behind a reference where the resolver looked. `looked_in` names
    /// each place (an environment variable's name, a file's path), never a value; it is empty
    /// when no resolver serves references of this form.
    #[error("secret not found: {auth_ref}{}", looked_in_text(looked_in))]
    SecretNotFound {
        /// The reference.
        auth_ref: String,
        /// Where the resolver looked.
        looked_in: Vec<String>,
    },
    /// The secret behind a reference exists, but holds no string under the reference's field:
    /// the field is absent, or its value is a number, an object, …. Names the field and where
    /// the resolver looked, never a value. Fix the secret or the reference.
    #[error("secret field `{field}` is {}: {auth_ref} (in {location})", found.map_or("missing".to_owned(), |kind| format!("a {kind}, not a string")))]
    SecretFieldMissing {
        /// The reference.
        auth_ref: String,
        /// The field asked for.
        field: String,
        /// Where the resolver read the secret (a Vault path, …).
        location: String,
        /// What the field holds instead of a string (`number`, `object`, …), never the value
        /// itself; `None` when the field is absent.
        found: Option<&'static str>,
    },
    /// The resolver's own credential is valid, but the secret backend's policy does not let it
    /// read where the reference points (a Vault token without a policy for the path). The
    /// operator must grant access or map the tenant elsewhere; retrying does not help. Unlike
    /// [`PermissionDenied`](Self::PermissionDenied), this is about the resolver's credential,
    /// not the caller's scopes.
    #[error(
        "secret access denied: {auth_ref} (the resolver's credential is valid but may not read {location})"
    )]
    SecretAccessDenied {
        /// The reference.
        auth_ref: String,
        /// Where the backend refused the read (a Vault path, …).
        location: String,
    },
    /// A unique key is taken (an integration name within a tenant, …).
    #[error("{kind} already exists: {id}")]
    AlreadyExists {
        /// What was created.
        kind: ResourceKind,
        /// The conflicting key.
        id: String,
    },
    /// The stored version differs from the expected one: reload and retry.
    #[error("{kind} {id} was changed concurrently: expected version {expected}")]
    Conflict {
        /// What was changed.
        kind: ResourceKind,
        /// Its id.
        id: String,
        /// The version the caller expected.
        expected: u64,
        /// The version found, when known.
        actual: Option<u64>,
    },
    /// The lifecycle does not allow this event in the current state.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// Input failed validation.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A paging cursor is malformed, tampered with, or belongs to another tenant or query.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// Why it was refused.
        reason: &'static str,
    },
    /// Credentials are missing, wrong or expired.
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        /// What failed (never a credential).
        message: String,
    },
    /// An approval by the integration's creator or last modifier, while the policy requires
    /// approval by someone else.
    #[error(
        "{actor} created or last changed this integration and cannot also approve it; another person must activate it"
    )]
    SelfApproval {
        /// Who tried to approve.
        actor: String,
    },
    /// The caller lacks a scope or permission.
    #[error("permission denied: missing scope {scope}")]
    PermissionDenied {
        /// The missing scope or permission.
        scope: String,
    },
    /// Too many requests; retry later.
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// How long to wait, when known.
        retry_after: Option<Duration>,
    },
    /// The operation is not implemented by this backend or connector.
    #[error("{operation} is not supported by {implementer}")]
    Unsupported {
        /// The operation asked for.
        operation: &'static str,
        /// The backend, connector or resolver that refused it.
        implementer: String,
    },
    /// An audit chain or archive does not verify.
    #[error("the audit chain does not verify: {0}")]
    ChainBroken(#[from] crate::audit::ChainBreak),
    /// Configuration is invalid (a URL with a disabled backend, a bad option, …).
    #[error("invalid configuration: {message}")]
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
    /// A deadline passed before the operation finished.
    #[error("{operation} timed out after {}ms", after.as_millis())]
    Timeout {
        /// The operation.
        operation: &'static str,
        /// The deadline that passed.
        after: Duration,
    },
    /// A stored record exists but cannot be read back into a valid value (edited in the
    /// database directly, written by a newer release, damaged). Retrying does not help; the
    /// record must be repaired or removed by an operator. Other records are unaffected.
    #[error("{kind} {id} is stored but cannot be read")]
    Corrupt {
        /// What was read.
        kind: ResourceKind,
        /// Its id.
        id: String,
        /// Which column was invalid, and why.
        #[source]
        source: BoxError,
    },
    /// A backend failed in a way the caller can only retry or report.
    #[error("{backend} backend failed")]
    Backend {
        /// Which backend (`sqlite`, `postgres`, `vault`, …).
        backend: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

fn looked_in_text(looked_in: &[String]) -> String {
    if looked_in.is_empty() {
        " (no resolver serves this reference)".to_owned()
    } else {
        format!(" (looked in {})", looked_in.join(", "))
    }
}

/// `error` and every cause below it, joined by `: ` (`cannot open the catalog: sqlite
/// backend failed: unable to open database file`): for a one-line report of the whole chain.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // A wrapper that prints its source itself would show it twice.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl Error {
    /// A backend error.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend,
            source: source.into(),
        }
    }

    /// An integration that is not visible to the caller.
    pub fn integration_not_found(id: impl std::fmt::Display) -> Self {
        Error::NotFound {
            kind: ResourceKind::Integration,
            id: id.to_string(),
        }
    }

    /// An unsupported operation.
    pub fn unsupported(operation: &'static str, implementer: impl Into<String>) -> Self {
        Error::Unsupported {
            operation,
            implementer: implementer.into(),
        }
    }

    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Timeout { .. } | Error::Backend { .. }
        )
    }

    /// A stored record of `kind` that cannot be read back; `cause` says which value was
    /// invalid. A backend failure's own source is kept, not the backend wrapper.
    pub fn corrupt(kind: ResourceKind, id: impl std::fmt::Display, cause: Error) -> Self {
        let source = match cause {
            Error::Backend { source, .. } => source,
            other => Box::new(other),
        };
        Error::Corrupt {
            kind,
            id: id.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn messages_state_this_layer_and_keep_the_cause_in_source() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::backend("sqlite", io);
        assert_eq!(e.to_string(), "sqlite backend failed");
        assert_eq!(e.source().unwrap().to_string(), "disk on fire");
        assert!(e.is_retryable());
        assert_eq!(chain(&e), "sqlite backend failed: disk on fire");
    }

    #[test]
    fn a_corrupt_record_names_itself_keeps_the_cause_and_is_final() {
        let cause = Error::backend("sqlite", std::io::Error::other("stored x.y is invalid"));
        let e = Error::corrupt(ResourceKind::Integration, "0190-abc", cause);
        assert_eq!(
            e.to_string(),
            "integration 0190-abc is stored but cannot be read"
        );
        assert_eq!(
            chain(&e),
            "integration 0190-abc is stored but cannot be read: stored x.y is invalid"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn messages() {
        let e = Error::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(e.to_string(), "rate limited, retry after 30s");
        assert_eq!(
            Error::unsupported("webhook_test", "harbor").to_string(),
            "webhook_test is not supported by harbor"
        );
        let c = Error::Conflict {
            kind: ResourceKind::Integration,
            id: "x".into(),
            expected: 3,
            actual: Some(4),
        };
        assert_eq!(
            c.to_string(),
            "integration x was changed concurrently: expected version 3"
        );
        assert!(!c.is_retryable());
    }

    #[test]
    fn secret_errors_name_the_place_and_the_field_never_a_value() {
        let missing = Error::SecretFieldMissing {
            auth_ref: "authref://vault/secret/ci#token".into(),
            field: "token".into(),
            location: "Vault path secret/data/ci".into(),
            found: None,
        };
        assert_eq!(
            missing.to_string(),
            "secret field `token` is missing: authref://vault/secret/ci#token (in Vault path secret/data/ci)"
        );
        let number = Error::SecretFieldMissing {
            auth_ref: "authref://vault/secret/ci#token".into(),
            field: "token".into(),
            location: "Vault path secret/data/ci".into(),
            found: Some("number"),
        };
        assert!(
            number
                .to_string()
                .starts_with("secret field `token` is a number, not a string: ")
        );
        let denied = Error::SecretAccessDenied {
            auth_ref: "authref://vault/secret/ci#token".into(),
            location: "Vault path secret/data/ci".into(),
        };
        assert_eq!(
            denied.to_string(),
            "secret access denied: authref://vault/secret/ci#token (the resolver's credential is valid but may not read Vault path secret/data/ci)"
        );
        assert!(!denied.is_retryable() && !number.is_retryable());
    }
}
