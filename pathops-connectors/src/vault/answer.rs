//! Vault's answers to outcomes: one place maps a status and body to a result or an error.

use std::num::NonZeroU64;

use pathops_core::{AuthRef, Error, Result};
use secrecy::SecretString;
use serde_json::Value;

use super::VaultValue;
use crate::http::HttpResponse;

/// Why Vault refused: its status and `errors` list (Vault never echoes the token there).
#[derive(Debug, thiserror::Error)]
#[error("vault answered {status}{}", if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) })]
pub struct VaultError {
    /// The HTTP status.
    pub status: u16,
    /// Vault's `errors`.
    pub errors: Vec<String>,
}

impl VaultError {
    fn of(response: &HttpResponse) -> Self {
        let errors = response
            .json::<Value>()
            .ok()
            .and_then(|v| v["errors"].as_array().cloned())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            status: response.status.as_u16(),
            errors,
        }
    }
}

/// A 403: Vault's answer to a bad or expired token (and to a valid one its policies do not
/// cover, which [`read`](super::VaultResolver::read) tells apart with `lookup-self`). Any
/// other status: the backend failed, the cause in `source()`.
pub(super) fn refused(response: &HttpResponse) -> Error {
    let err = VaultError::of(response);
    if err.status == 403 {
        Error::Unauthenticated {
            message: "vault refused the token (403 permission denied)".to_owned(),
        }
    } else {
        Error::backend("vault", err)
    }
}

/// What one KV v2 read was for: the reference, its field and where it points in Vault.
pub(super) struct Read<'a> {
    pub(super) auth_ref: &'a AuthRef,
    pub(super) field: &'a str,
    /// `<mount>/data/<path>`.
    pub(super) api_path: String,
    pub(super) version: Option<NonZeroU64>,
    /// `Vault path <mount>/data/<path>[ in namespace <ns>][, version <n>]`.
    pub(super) location: String,
}

impl<'a> Read<'a> {
    pub(super) fn new(
        auth_ref: &'a AuthRef,
        field: &'a str,
        api_path: String,
        namespace: Option<&'a str>,
    ) -> Self {
        let version = auth_ref.version();
        let mut location = format!("Vault path {api_path}");
        if let Some(ns) = namespace {
            location += &format!(" in namespace {ns}");
        }
        if let Some(v) = version {
            location += &format!(", version {v}");
        }
        Self {
            auth_ref,
            field,
            api_path,
            version,
            location,
        }
    }

    /// The path and query of the read: `<mount>/data/<path>[?version=<n>]`.
    pub(super) fn request_path(&self) -> String {
        match self.version {
            Some(v) => format!("{}?version={v}", self.api_path),
            None => self.api_path.clone(),
        }
    }

    /// A 200: the field as a string, else [`Error::SecretFieldMissing`] naming what it holds.
    pub(super) fn found(&self, response: &HttpResponse) -> Result<VaultValue> {
        let body: Value = response.json().map_err(|e| Error::backend("vault", e))?;
        let field = &body["data"]["data"][self.field];
        let Some(value) = field.as_str() else {
            return Err(Error::SecretFieldMissing {
                auth_ref: self.auth_ref.to_string(),
                field: self.field.to_owned(),
                location: self.location.clone(),
                found: json_kind(field),
            });
        };
        Ok(VaultValue {
            value: SecretString::from(value.to_owned()),
            version: body["data"]["metadata"]["version"].as_u64(),
        })
    }

    /// A 404: [`Error::SecretNotFound`], saying whether the version was deleted or destroyed
    /// when Vault's metadata says so (KV v2 answers such a version with `data: null` and its
    /// metadata).
    pub(super) fn missing(&self, response: &HttpResponse) -> Error {
        let body: Value = response.json().unwrap_or_default();
        let metadata = &body["data"]["metadata"];
        let state = if metadata["destroyed"].as_bool() == Some(true) {
            Some("destroyed")
        } else if metadata["deletion_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
        {
            Some("deleted")
        } else {
            None
        };
        let looked_in = match (state, self.version, metadata["version"].as_u64()) {
            (Some(state), None, Some(current)) => {
                format!("{}, current version {current} ({state})", self.location)
            }
            (Some(state), _, _) => format!("{} ({state})", self.location),
            (None, _, _) => self.location.clone(),
        };
        pathops_core::secret::not_found(self.auth_ref, vec![looked_in])
    }

    /// A 403 with a token `lookup-self` accepts: the policy denies this path.
    pub(super) fn denied(&self) -> Error {
        Error::SecretAccessDenied {
            auth_ref: self.auth_ref.to_string(),
            location: self.location.clone(),
        }
    }
}

/// The JSON type of a value that is not a string, `None` when absent (or `null`).
fn json_kind(value: &Value) -> Option<&'static str> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some("boolean"),
        Value::Number(_) => Some("number"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
    }
}
