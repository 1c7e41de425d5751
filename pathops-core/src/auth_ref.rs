//! [`AuthRef`]: where a credential lives, never the credential itself.
//!
//! Two forms are accepted:
//!
//! ```text
//! ref://<scope>/<provider>/<key>            e.g. ref://acme/gitlab/ci-token
//! authref://<backend>/<path>[#<field>[@<version>]]
//!                                           e.g. authref://vault/secret/gitlab/ci#token
//!                                                authref://vault/secret/gitlab/ci#token@3
//! ```
//!
//! Grammar, checked strictly:
//! - `scope`, `provider` and `backend`: lowercase ASCII letters, digits, `.`, `_` and `-`,
//!   starting with a letter or digit;
//! - `key`, each `path` segment and `field`: ASCII letters, digits, `.`, `_` and `-`, starting
//!   with a letter or digit;
//! - `version`, only after a field: a positive decimal integer without leading zeros that fits
//!   in a `u64` (`@1`, `@42`; not `@0`, `@01` or `@`). It pins one version of a versioned
//!   secret (Vault KV v2); without it a backend reads the current version. `@` is outside the
//!   field grammar, so no reference that parsed before versions existed changes meaning.
//!   Backends without versions (`env`, `file`) refuse every field, and so every version;
//! - no empty segment, no `.` or `..` segment, no whitespace or control character;
//! - at most [`AuthRef::MAX_LEN`] bytes in all, [`AuthRef::MAX_SEGMENT_LEN`] per segment and
//!   [`AuthRef::MAX_PATH_SEGMENTS`] path segments.
//!
//! A parsed ref prints back exactly as it was written. Parse errors say which part is wrong and
//! never repeat the input, in case a secret was pasted where a reference belongs.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A validated reference to a credential held by a secret backend.
///
/// ```
/// use pathops_core::AuthRef;
///
/// let r: AuthRef = "ref://acme/gitlab/ci-token".parse()?;
/// assert_eq!(r.scheme(), "ref");
/// assert_eq!(r.scope(), Some("acme"));
/// assert_eq!(r.key(), Some("ci-token"));
///
/// let v: AuthRef = "authref://vault/secret/gitlab/ci#token".parse()?;
/// assert_eq!(v.backend(), Some("vault"));
/// assert_eq!(v.path(), Some("secret/gitlab/ci"));
/// assert_eq!(v.field(), Some("token"));
/// assert_eq!(v.version(), None);
/// assert_eq!(v.to_string(), "authref://vault/secret/gitlab/ci#token");
///
/// let pinned: AuthRef = "authref://vault/secret/gitlab/ci#token@3".parse()?;
/// assert_eq!(pinned.field(), Some("token"));
/// assert_eq!(pinned.version().map(|v| v.get()), Some(3));
/// assert_eq!(pinned.to_string(), "authref://vault/secret/gitlab/ci#token@3");
/// # Ok::<(), pathops_core::AuthRefError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuthRef {
    raw: String,
    form: Form,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Form {
    Scoped {
        scope_end: usize,
        provider_end: usize,
    },
    Backend {
        backend_end: usize,
        field_start: Option<usize>,
        /// Where the `@` before the version is, and the version.
        version: Option<(usize, NonZeroU64)>,
    },
}

const REF_PREFIX: &str = "ref://";
const AUTHREF_PREFIX: &str = "authref://";

impl AuthRef {
    /// The longest accepted reference, in bytes.
    pub const MAX_LEN: usize = 512;
    /// The longest accepted segment, in bytes.
    pub const MAX_SEGMENT_LEN: usize = 128;
    /// The most segments an `authref://` path may have.
    pub const MAX_PATH_SEGMENTS: usize = 16;

    /// Parses and validates a reference.
    pub fn parse(input: &str) -> Result<Self, AuthRefError> {
        use AuthRefErrorKind as K;
        use AuthRefPart as P;

        if input.len() > Self::MAX_LEN {
            return Err(AuthRefError::new(
                P::Whole,
                K::TooLong { max: Self::MAX_LEN },
            ));
        }
        if let Some(index) = input.find(char::is_whitespace) {
            return Err(AuthRefError::new(P::Whole, K::Whitespace { index }));
        }
        if let Some(index) = input.find(char::is_control) {
            return Err(AuthRefError::new(P::Whole, K::ControlCharacter { index }));
        }

        if let Some(rest) = input.strip_prefix(REF_PREFIX) {
            let segments: Vec<&str> = rest.split('/').collect();
            if segments.len() != 3 {
                return Err(AuthRefError::new(
                    P::Whole,
                    K::WrongSegmentCount {
                        expected: 3,
                        found: segments.len(),
                    },
                ));
            }
            check_segment(P::Scope, segments[0], is_lower_char)?;
            check_segment(P::Provider, segments[1], is_lower_char)?;
            check_segment(P::Key, segments[2], is_mixed_char)?;
            let scope_end = REF_PREFIX.len() + segments[0].len();
            let provider_end = scope_end + 1 + segments[1].len();
            Ok(Self {
                raw: input.to_owned(),
                form: Form::Scoped {
                    scope_end,
                    provider_end,
                },
            })
        } else if let Some(rest) = input.strip_prefix(AUTHREF_PREFIX) {
            let (locator, field) = match rest.split_once('#') {
                Some((locator, field)) => (locator, Some(field)),
                None => (rest, None),
            };
            let (backend, path) = locator
                .split_once('/')
                .ok_or(AuthRefError::new(P::Path, K::Empty))?;
            check_segment(P::Backend, backend, is_lower_char)?;
            let path_segments: Vec<&str> = path.split('/').collect();
            if path_segments.len() > Self::MAX_PATH_SEGMENTS {
                return Err(AuthRefError::new(
                    P::Path,
                    K::TooManySegments {
                        max: Self::MAX_PATH_SEGMENTS,
                    },
                ));
            }
            for segment in path_segments {
                check_segment(P::Path, segment, is_mixed_char)?;
            }
            let mut version = None;
            if let Some(field) = field {
                let (name, pinned) = match field.split_once('@') {
                    Some((name, pinned)) => (name, Some(pinned)),
                    None => (field, None),
                };
                check_segment(P::Field, name, is_mixed_char)?;
                if let Some(pinned) = pinned {
                    let at = input.len() - pinned.len() - 1;
                    version = Some((at, check_version(pinned)?));
                }
            }
            let backend_end = AUTHREF_PREFIX.len() + backend.len();
            Ok(Self {
                raw: input.to_owned(),
                form: Form::Backend {
                    backend_end,
                    field_start: field.map(|f| input.len() - f.len()),
                    version,
                },
            })
        } else if input.contains("://") {
            Err(AuthRefError::new(P::Scheme, K::UnknownScheme))
        } else {
            Err(AuthRefError::new(P::Scheme, K::MissingScheme))
        }
    }

    /// `ref` or `authref`.
    pub fn scheme(&self) -> &str {
        match self.form {
            Form::Scoped { .. } => "ref",
            Form::Backend { .. } => "authref",
        }
    }

    /// The scope of a `ref://` reference (often the tenant, or `global`).
    pub fn scope(&self) -> Option<&str> {
        match self.form {
            Form::Scoped { scope_end, .. } => Some(&self.raw[REF_PREFIX.len()..scope_end]),
            Form::Backend { .. } => None,
        }
    }

    /// The provider segment of a `ref://` reference.
    pub fn provider(&self) -> Option<&str> {
        match self.form {
            Form::Scoped {
                scope_end,
                provider_end,
            } => Some(&self.raw[scope_end + 1..provider_end]),
            Form::Backend { .. } => None,
        }
    }

    /// The key of a `ref://` reference.
    pub fn key(&self) -> Option<&str> {
        match self.form {
            Form::Scoped { provider_end, .. } => Some(&self.raw[provider_end + 1..]),
            Form::Backend { .. } => None,
        }
    }

    /// The backend of an `authref://` reference (`vault`, `env`, `file`, …).
    pub fn backend(&self) -> Option<&str> {
        match self.form {
            Form::Backend { backend_end, .. } => Some(&self.raw[AUTHREF_PREFIX.len()..backend_end]),
            Form::Scoped { .. } => None,
        }
    }

    /// The path of an `authref://` reference, without its `#field`.
    pub fn path(&self) -> Option<&str> {
        match self.form {
            Form::Backend {
                backend_end,
                field_start,
                ..
            } => {
                let end = field_start.map_or(self.raw.len(), |start| start - 1);
                Some(&self.raw[backend_end + 1..end])
            }
            Form::Scoped { .. } => None,
        }
    }

    /// The `#field` of an `authref://` reference, if any, without its `@version`.
    pub fn field(&self) -> Option<&str> {
        match self.form {
            Form::Backend {
                field_start: Some(start),
                version,
                ..
            } => {
                let end = version.map_or(self.raw.len(), |(at, _)| at);
                Some(&self.raw[start..end])
            }
            _ => None,
        }
    }

    /// The `@version` after the `#field` of an `authref://` reference, if any: which version
    /// of a versioned secret to read (`None`: the current one).
    pub fn version(&self) -> Option<NonZeroU64> {
        match self.form {
            Form::Backend {
                version: Some((_, version)),
                ..
            } => Some(version),
            _ => None,
        }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The routing key used by [`ChainResolver`](crate::secret::ChainResolver):
    /// the scope for `ref://`, the backend for `authref://`.
    pub fn route(&self) -> &str {
        self.scope().or_else(|| self.backend()).unwrap_or_default()
    }
}

fn is_lower_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

fn is_mixed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_version(text: &str) -> Result<NonZeroU64, AuthRefError> {
    use AuthRefErrorKind as K;
    let part = AuthRefPart::Version;
    if text.is_empty() {
        return Err(AuthRefError::new(part, K::Empty));
    }
    if let Some(index) = text.find(|c: char| !c.is_ascii_digit()) {
        return Err(AuthRefError::new(part, K::InvalidCharacter { index }));
    }
    if text.starts_with('0') {
        return Err(AuthRefError::new(part, K::NotAVersion));
    }
    text.parse::<NonZeroU64>()
        .map_err(|_| AuthRefError::new(part, K::NotAVersion))
}

fn check_segment(
    part: AuthRefPart,
    segment: &str,
    allowed: fn(char) -> bool,
) -> Result<(), AuthRefError> {
    use AuthRefErrorKind as K;
    if segment.is_empty() {
        return Err(AuthRefError::new(part, K::Empty));
    }
    if segment == "." || segment == ".." {
        return Err(AuthRefError::new(part, K::Traversal));
    }
    if segment.len() > AuthRef::MAX_SEGMENT_LEN {
        return Err(AuthRefError::new(
            part,
            K::TooLong {
                max: AuthRef::MAX_SEGMENT_LEN,
            },
        ));
    }
    if let Some((index, _)) = segment.char_indices().find(|(_, c)| !allowed(*c)) {
        return Err(AuthRefError::new(part, K::InvalidCharacter { index }));
    }
    if !segment.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(AuthRefError::new(part, K::InvalidCharacter { index: 0 }));
    }
    Ok(())
}

impl fmt::Display for AuthRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.raw)
    }
}

impl FromStr for AuthRef {
    type Err = AuthRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AuthRef {
    type Error = AuthRefError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AuthRef> for String {
    fn from(value: AuthRef) -> Self {
        value.raw
    }
}

/// Which part of an auth ref was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthRefPart {
    /// The whole reference (length, whitespace, control characters, segment count).
    Whole,
    /// The `ref://` or `authref://` prefix.
    Scheme,
    /// The scope of `ref://<scope>/…`.
    Scope,
    /// The provider of `ref://<scope>/<provider>/…`.
    Provider,
    /// The key of `ref://…/<key>`.
    Key,
    /// The backend of `authref://<backend>/…`.
    Backend,
    /// The path of `authref://<backend>/<path>`.
    Path,
    /// The `#field` of an `authref://` reference.
    Field,
    /// The `@version` after the `#field`.
    Version,
}

impl fmt::Display for AuthRefPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthRefPart::Whole => "reference",
            AuthRefPart::Scheme => "scheme",
            AuthRefPart::Scope => "scope",
            AuthRefPart::Provider => "provider",
            AuthRefPart::Key => "key",
            AuthRefPart::Backend => "backend",
            AuthRefPart::Path => "path",
            AuthRefPart::Field => "field",
            AuthRefPart::Version => "version",
        })
    }
}

/// What was wrong with the rejected part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthRefErrorKind {
    /// Neither `ref://` nor `authref://`, and no scheme at all.
    MissingScheme,
    /// A scheme other than `ref://` or `authref://`.
    UnknownScheme,
    /// An empty segment (`ref://acme//key`).
    Empty,
    /// A `.` or `..` segment.
    Traversal,
    /// Whitespace at byte `index` of the reference.
    Whitespace {
        /// Byte offset in the whole reference.
        index: usize,
    },
    /// A control character at byte `index` of the reference.
    ControlCharacter {
        /// Byte offset in the whole reference.
        index: usize,
    },
    /// A character outside the grammar at byte `index` of the segment.
    InvalidCharacter {
        /// Byte offset in the segment.
        index: usize,
    },
    /// Longer than `max` bytes.
    TooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// `ref://` needs exactly `expected` segments.
    WrongSegmentCount {
        /// Segments the form requires.
        expected: usize,
        /// Segments found.
        found: usize,
    },
    /// More path segments than allowed.
    TooManySegments {
        /// The limit.
        max: usize,
    },
    /// A version of digits that is zero, has a leading zero or does not fit in a `u64`.
    NotAVersion,
}

/// An auth ref did not parse. The message names the part and the rule, never the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid auth ref {part}: {kind}")]
pub struct AuthRefError {
    /// The part that was rejected.
    pub part: AuthRefPart,
    /// Why.
    pub kind: AuthRefErrorKind,
}

impl AuthRefError {
    fn new(part: AuthRefPart, kind: AuthRefErrorKind) -> Self {
        Self { part, kind }
    }
}

impl fmt::Display for AuthRefErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingScheme => f.write_str("must start with ref:// or authref://"),
            Self::UnknownScheme => f.write_str("only ref:// and authref:// are supported"),
            Self::Empty => f.write_str("is empty"),
            Self::Traversal => f.write_str("must not be . or .."),
            Self::Whitespace { index } => write!(f, "has whitespace at byte {index}"),
            Self::ControlCharacter { index } => {
                write!(f, "has a control character at byte {index}")
            }
            Self::InvalidCharacter { index } => {
                write!(f, "has a character outside the grammar at byte {index}")
            }
            Self::TooLong { max } => write!(f, "is longer than {max} bytes"),
            Self::WrongSegmentCount { expected, found } => {
                write!(f, "has {found} segments, expected {expected}")
            }
            Self::TooManySegments { max } => write!(f, "has more than {max} segments"),
            Self::NotAVersion => {
                f.write_str("must be a positive integer without leading zeros (1, 2, …)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthRefErrorKind as K;
    use AuthRefPart as P;

    fn err(input: &str) -> (AuthRefPart, AuthRefErrorKind) {
        let e = AuthRef::parse(input).unwrap_err();
        (e.part, e.kind)
    }

    #[test]
    fn parses_both_forms() {
        let r = AuthRef::parse("ref://acme/gitlab/CI_token-1").unwrap();
        assert_eq!(
            (r.scope(), r.provider(), r.key(), r.backend()),
            (Some("acme"), Some("gitlab"), Some("CI_token-1"), None)
        );
        assert_eq!(r.route(), "acme");
        let v = AuthRef::parse("authref://vault/kv/team.a/gitlab").unwrap();
        assert_eq!(
            (v.backend(), v.path(), v.field(), v.scope()),
            (Some("vault"), Some("kv/team.a/gitlab"), None, None)
        );
        assert_eq!(v.route(), "vault");
    }

    #[test]
    fn rejections_name_the_part() {
        assert_eq!(err("acme/gitlab/key"), (P::Scheme, K::MissingScheme));
        assert_eq!(
            err("https://acme/gitlab/key"),
            (P::Scheme, K::UnknownScheme)
        );
        assert_eq!(
            err("ref://acme/gitlab"),
            (
                P::Whole,
                K::WrongSegmentCount {
                    expected: 3,
                    found: 2
                }
            )
        );
        assert_eq!(err("ref://acme//key"), (P::Provider, K::Empty));
        assert_eq!(err("ref:///gitlab/key"), (P::Scope, K::Empty));
        assert_eq!(err("ref://acme/gitlab/.."), (P::Key, K::Traversal));
        assert_eq!(err("authref://vault/kv/../root"), (P::Path, K::Traversal));
        assert_eq!(err("authref://vault/kv/./x"), (P::Path, K::Traversal));
        assert_eq!(err("authref://vault"), (P::Path, K::Empty));
        assert_eq!(err("authref://vault/"), (P::Path, K::Empty));
        assert_eq!(err("authref://vault/kv#"), (P::Field, K::Empty));
        assert_eq!(
            err("authref://Vault/kv"),
            (P::Backend, K::InvalidCharacter { index: 0 })
        );
        assert_eq!(
            err("ref://ACME/gitlab/key"),
            (P::Scope, K::InvalidCharacter { index: 0 })
        );
        assert_eq!(
            err("ref://acme/gitlab/k%2e"),
            (P::Key, K::InvalidCharacter { index: 1 })
        );
        assert_eq!(
            err("ref://acme/gitlab/-k"),
            (P::Key, K::InvalidCharacter { index: 0 })
        );
        assert_eq!(
            err("ref://acme/git lab/key"),
            (P::Whole, K::Whitespace { index: 14 })
        );
        assert_eq!(
            err("ref://acme/gitlab/key\u{7}"),
            (P::Whole, K::ControlCharacter { index: 21 })
        );
        assert_eq!(
            err(&format!("ref://acme/gitlab/{}", "k".repeat(600))),
            (P::Whole, K::TooLong { max: 512 })
        );
        assert_eq!(
            err(&format!("ref://acme/gitlab/{}", "k".repeat(129))),
            (P::Key, K::TooLong { max: 128 })
        );
        let deep = format!("authref://vault/{}", vec!["a"; 17].join("/"));
        assert_eq!(err(&deep), (P::Path, K::TooManySegments { max: 16 }));
    }

    #[test]
    fn a_field_may_pin_a_version() {
        let v = AuthRef::parse("authref://vault/secret/gitlab/ci#token@3").unwrap();
        assert_eq!(
            (v.path(), v.field(), v.version().map(NonZeroU64::get)),
            (Some("secret/gitlab/ci"), Some("token"), Some(3))
        );
        assert_eq!(v.to_string(), "authref://vault/secret/gitlab/ci#token@3");
        let max = format!("authref://vault/kv/x#f@{}", u64::MAX);
        assert_eq!(
            AuthRef::parse(&max).unwrap().version().map(NonZeroU64::get),
            Some(u64::MAX)
        );
        let plain = AuthRef::parse("authref://vault/kv/x#f").unwrap();
        assert_eq!((plain.field(), plain.version()), (Some("f"), None));
        assert_ne!(
            v,
            AuthRef::parse("authref://vault/secret/gitlab/ci#token").unwrap()
        );
        let r = AuthRef::parse("ref://acme/gitlab/key").unwrap();
        assert_eq!(r.version(), None);
    }

    #[test]
    fn bad_versions_name_the_version() {
        assert_eq!(err("authref://vault/kv/x#f@"), (P::Version, K::Empty));
        assert_eq!(
            err("authref://vault/kv/x#f@0"),
            (P::Version, K::NotAVersion)
        );
        assert_eq!(
            err("authref://vault/kv/x#f@007"),
            (P::Version, K::NotAVersion)
        );
        assert_eq!(
            err("authref://vault/kv/x#f@18446744073709551616"),
            (P::Version, K::NotAVersion)
        );
        assert_eq!(
            err("authref://vault/kv/x#f@-1"),
            (P::Version, K::InvalidCharacter { index: 0 })
        );
        assert_eq!(
            err("authref://vault/kv/x#f@1@2"),
            (P::Version, K::InvalidCharacter { index: 1 })
        );
        assert_eq!(
            err("authref://vault/kv/x#f@v2"),
            (P::Version, K::InvalidCharacter { index: 0 })
        );
        assert_eq!(err("authref://vault/kv/x#@3"), (P::Field, K::Empty));
        assert_eq!(
            err("authref://vault/kv/x@3"),
            (P::Path, K::InvalidCharacter { index: 1 })
        );
        let e = AuthRef::parse("authref://vault/kv/x#f@SENTINEL").unwrap_err();
        assert!(!e.to_string().contains("SENTINEL"));
        assert_eq!(
            e.to_string(),
            "invalid auth ref version: has a character outside the grammar at byte 0"
        );
    }

    #[test]
    fn errors_do_not_echo_the_input() {
        let pasted = "glpat-SENTINEL-do-not-print";
        let e = AuthRef::parse(pasted).unwrap_err();
        assert!(!e.to_string().contains("SENTINEL"));
        assert!(!format!("{e:?}").contains("SENTINEL"));
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let r = AuthRef::parse("authref://vault/kv/gitlab#token").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"authref://vault/kv/gitlab#token\"");
        assert_eq!(serde_json::from_str::<AuthRef>(&json).unwrap(), r);
        assert!(serde_json::from_str::<AuthRef>("\"ref://a/b\"").is_err());
    }
}
