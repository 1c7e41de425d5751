//! Validated identifiers: [`IntegrationId`], [`TenantId`] and [`ActorId`].
//!
//! Every identifier is a newtype that can only hold a valid value: construct one with
//! [`FromStr`] (or `TryFrom<String>`, which serde uses), never by wrapping an unchecked string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::{Problem, ValidationError};

/// The identity of one integration: a UUID version 7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Uuid", into = "Uuid")]
pub struct IntegrationId(Uuid);

impl IntegrationId {
    /// A new, time-ordered id (UUID v7) from the system clock and a random tail.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an existing UUID, refusing anything that is not version 7.
    pub fn from_uuid(uuid: Uuid) -> Result<Self, ValidationError> {
        if uuid.get_version_num() == 7 {
            Ok(Self(uuid))
        } else {
            Err(ValidationError::new("id", Problem::NotUuidV7))
        }
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for IntegrationId {
    fn default() -> Self {
        Self::new()
    }
}

impl TryFrom<Uuid> for IntegrationId {
    type Error = ValidationError;
    fn try_from(value: Uuid) -> Result<Self, Self::Error> {
        Self::from_uuid(value)
    }
}

impl From<IntegrationId> for Uuid {
    fn from(value: IntegrationId) -> Self {
        value.0
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for IntegrationId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uuid = Uuid::parse_str(s).map_err(|_| ValidationError::new("id", Problem::NotUuid))?;
        Self::from_uuid(uuid)
    }
}

/// Defines a string identifier newtype validated by `$check`.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, max = $max:literal, check = $check:path) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted identifier, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                check_identifier($field, &value, Self::MAX_LEN, $check)?;
                Ok(Self(value))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A tenant: 1–64 characters, lowercase ASCII letters, digits, `-` and `_`, starting with a
    /// letter or digit (`acme`, `team-42`).
    TenantId,
    field = "tenant_id",
    max = 64,
    check = is_tenant_char
);

string_id!(
    /// Who acted: a user, a service account or a PathOps component. 1–128 characters of ASCII
    /// letters, digits and `-_.@:+`, starting with a letter or digit
    /// (`alice@example.com`, `system:health-monitor`).
    ActorId,
    field = "actor_id",
    max = 128,
    check = is_actor_char
);

fn is_tenant_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

fn is_actor_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':' | '+')
}

fn check_identifier(
    field: &'static str,
    value: &str,
    max: usize,
    allowed: fn(char) -> bool,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    if value.len() > max {
        return Err(ValidationError::new(field, Problem::TooLong { max }));
    }
    if let Some((index, _)) = value.char_indices().find(|(_, c)| !allowed(*c)) {
        return Err(ValidationError::new(
            field,
            Problem::InvalidCharacter { index },
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(ValidationError::new(
            field,
            Problem::InvalidCharacter { index: 0 },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_ids_are_v7_and_round_trip() {
        let id = IntegrationId::new();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        let parsed: IntegrationId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<IntegrationId>(&json).unwrap(), id);
    }

    #[test]
    fn integration_id_rejects_other_versions_and_garbage() {
        let v4 = "9b2d6b5e-7a0c-4a8e-9c1e-2f1e0f6d2a10";
        assert_eq!(
            v4.parse::<IntegrationId>().unwrap_err().problem,
            Problem::NotUuidV7
        );
        assert_eq!(
            "not-a-uuid".parse::<IntegrationId>().unwrap_err().problem,
            Problem::NotUuid
        );
        assert!(serde_json::from_str::<IntegrationId>(&format!("\"{v4}\"")).is_err());
    }

    #[test]
    fn tenant_ids_validate() {
        assert_eq!(TenantId::new("acme-1").unwrap().as_str(), "acme-1");
        let err = TenantId::new("").unwrap_err();
        assert_eq!((err.field, err.problem), ("tenant_id", Problem::Empty));
        let err = TenantId::new("Acme").unwrap_err();
        assert_eq!(err.problem, Problem::InvalidCharacter { index: 0 });
        let err = TenantId::new("-acme").unwrap_err();
        assert_eq!(err.problem, Problem::InvalidCharacter { index: 0 });
        let err = TenantId::new("a".repeat(65)).unwrap_err();
        assert_eq!(err.problem, Problem::TooLong { max: 64 });
        assert!(serde_json::from_str::<TenantId>("\"bad tenant\"").is_err());
    }

    #[test]
    fn actor_ids_validate() {
        for ok in ["alice@example.com", "system:health-monitor", "svc+ci.bot"] {
            assert_eq!(ActorId::new(ok).unwrap().to_string(), ok);
        }
        let err = ActorId::new("alice smith").unwrap_err();
        assert_eq!(
            (err.field, err.problem),
            ("actor_id", Problem::InvalidCharacter { index: 5 })
        );
    }
}
