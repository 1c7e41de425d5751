//! Input validation errors: every rule names the field it guards and what was wrong.
//!
//! Messages never echo the rejected value: a user who pastes a token into the wrong field must
//! not find it again in a log line.

use std::fmt;

use crate::auth_ref::AuthRefError;
use crate::secret::RefDenied;

/// A value was rejected. `field` is the name of the input field (`name`, `base_url`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {problem}")]
pub struct ValidationError {
    /// The field that was rejected, as named in the API (`name`, `base_url`, `tags`, …).
    pub field: &'static str,
    /// What was wrong with it.
    pub problem: Problem,
}

impl ValidationError {
    /// A validation error for `field`.
    pub fn new(field: &'static str, problem: Problem) -> Self {
        Self { field, problem }
    }
}

/// What was wrong with a rejected value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The value is empty.
    Empty,
    /// The value is longer than `max` characters.
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// The value is larger than `max_bytes` once serialized.
    TooLarge {
        /// The limit, in bytes.
        max_bytes: usize,
    },
    /// There are too many items (tags, …).
    TooMany {
        /// The most items accepted.
        max: usize,
    },
    /// A character outside the documented set, at byte `index`.
    InvalidCharacter {
        /// The byte offset of the first offending character.
        index: usize,
    },
    /// Leading or trailing whitespace.
    SurroundingWhitespace,
    /// Not a UUID.
    NotUuid,
    /// A UUID, but not version 7.
    NotUuidV7,
    /// Not a parseable absolute URL.
    InvalidUrl(url::ParseError),
    /// The URL scheme is not `http` or `https`.
    UnsupportedScheme,
    /// The URL has no host.
    MissingHost,
    /// The URL carries a user name or password; credentials belong in an auth ref.
    UserInfoNotAllowed,
    /// The URL has a query string.
    QueryNotAllowed,
    /// The URL has a fragment.
    FragmentNotAllowed,
    /// Configuration must be a JSON object.
    NotAnObject,
    /// JSON nested deeper than `max` levels.
    TooDeep {
        /// The deepest accepted level.
        max: usize,
    },
    /// A NUL character (U+0000), which no store can keep in text.
    NulCharacter,
    /// The provider does not belong to the requested integration type.
    ProviderTypeMismatch,
    /// The auth ref does not follow the grammar.
    InvalidAuthRef(AuthRefError),
    /// A number outside its allowed range.
    OutOfRange,
    /// A value that is not one of the documented names.
    UnknownValue,
    /// The patch changes nothing.
    NoChanges,
    /// A well-formed auth ref this tenant may not use.
    AuthRefDenied(RefDenied),
    /// A reference the environment resolver cannot map to a variable without colliding with
    /// another reference's.
    NotEnvMappable,
    /// A value that must be an auth ref (or a list of them) is of another JSON type.
    NotAnAuthRef,
    /// Shorter than the minimum.
    TooShort {
        /// The minimum length, in bytes.
        min: usize,
    },
    /// Not in the documented format.
    Malformed,
    /// Refused by a rule outside PathOps (an out-of-process plugin's `validate_config`), with
    /// its reason as given (bounded, control characters removed).
    Rejected {
        /// Why.
        reason: String,
    },
    /// The problem is with one key of a JSON object (`configuration`).
    AtKey {
        /// The key.
        key: String,
        /// What was wrong with its value.
        problem: Box<Problem>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("must not be empty"),
            Problem::TooLong { max } => write!(f, "longer than {max} characters"),
            Problem::TooLarge { max_bytes } => write!(f, "larger than {max_bytes} bytes"),
            Problem::TooMany { max } => write!(f, "more than {max} items"),
            Problem::InvalidCharacter { index } => {
                write!(f, "character not allowed at byte {index}")
            }
            Problem::SurroundingWhitespace => f.write_str("leading or trailing whitespace"),
            Problem::Rejected { reason } => write!(f, "rejected: {reason}"),
            Problem::NotUuid => f.write_str("not a UUID"),
            Problem::NotUuidV7 => f.write_str("not a version 7 UUID"),
            Problem::InvalidUrl(e) => write!(f, "not a valid absolute URL ({e})"),
            Problem::UnsupportedScheme => f.write_str("scheme must be http or https"),
            Problem::MissingHost => f.write_str("URL has no host"),
            Problem::UserInfoNotAllowed => {
                f.write_str("URL must not carry credentials; use an auth ref")
            }
            Problem::QueryNotAllowed => f.write_str("URL must not have a query string"),
            Problem::FragmentNotAllowed => f.write_str("URL must not have a fragment"),
            Problem::NotAnObject => f.write_str("must be a JSON object"),
            Problem::TooDeep { max } => write!(f, "nested deeper than {max} levels"),
            Problem::NulCharacter => f.write_str("contains a NUL character"),
            Problem::ProviderTypeMismatch => {
                f.write_str("provider does not belong to the integration type")
            }
            Problem::InvalidAuthRef(e) => write!(f, "{e}"),
            Problem::OutOfRange => f.write_str("out of range"),
            Problem::UnknownValue => f.write_str("not one of the documented values"),
            Problem::NoChanges => f.write_str("nothing to change"),
            Problem::AuthRefDenied(denied) => write!(f, "auth ref not allowed: {denied}"),
            Problem::NotEnvMappable => f.write_str(
                "auth ref cannot be mapped to an environment variable without colliding with \
                 another: the environment resolver serves only segments of lowercase letters and \
                 digits joined by single hyphens",
            ),
            Problem::NotAnAuthRef => f.write_str("must be an auth ref or a list of them"),
            Problem::TooShort { min } => write!(f, "shorter than {min} bytes"),
            Problem::Malformed => f.write_str("not in the documented format"),
            Problem::AtKey { key, problem } => write!(f, "key `{key}`: {problem}"),
        }
    }
}
