//! The manifest's "references only" rule: no credential value anywhere in it.

use serde_json::Value;

use super::error::{ManifestError, ManifestProblem};
use crate::auth_ref::AuthRef;
use crate::secret::CONFIGURATION_REF_SUFFIX;

/// Key endings that say a key holds a secret (after lower-casing and `-` → `_`). A key equal
/// to one of these or ending in `_` + one of them is refused unless it ends in `_ref`.
const SECRET_KEY_ENDINGS: [&str; 14] = [
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "private_key",
    "privatekey",
    "api_key",
    "apikey",
    "access_key",
    "secret_key",
    "credential",
    "credentials",
    "client_secret",
];

/// Prefixes of well-known token formats (GitLab, GitHub, Slack) and of PEM private keys.
const SECRET_VALUE_PREFIXES: [&str; 8] = [
    "glpat-",
    "gldt-",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "xoxb-",
];

/// Whether `key` names a secret.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    if key.ends_with(CONFIGURATION_REF_SUFFIX) || key.ends_with("_refs") {
        return false;
    }
    SECRET_KEY_ENDINGS.iter().any(|end| {
        key == *end
            || key
                .strip_suffix(end)
                .is_some_and(|head| head.ends_with('_'))
    })
}

/// Whether `text` is a credential by its form.
pub(crate) fn is_secret_value(text: &str) -> bool {
    let text = text.trim_start();
    (text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY"))
        || SECRET_VALUE_PREFIXES.iter().any(|p| text.starts_with(p))
}

/// Refuses the first secret in a manifest document (its path, never its value): a
/// secret-named key, a secret-shaped string, or a reference field that holds no reference.
pub(crate) fn refuse_secrets(doc: &Value) -> Result<(), ManifestError> {
    let Some(entries) = doc.get("integrations").and_then(Value::as_array) else {
        return walk(doc, "");
    };
    for (index, entry) in entries.iter().enumerate() {
        let base = format!("integrations[{index}]");
        if let Some(auth_ref) = entry.get("auth_ref")
            && !auth_ref.is_null()
            && !is_reference(auth_ref)
        {
            return Err(ManifestError::new(
                format!("{base}.auth_ref"),
                ManifestProblem::NotAReference,
            ));
        }
        if let Some(Value::Object(configuration)) = entry.get("configuration") {
            for (key, value) in configuration {
                if key.ends_with(CONFIGURATION_REF_SUFFIX) && !is_reference_or_list(value) {
                    return Err(ManifestError::new(
                        format!("{base}.configuration.{key}"),
                        ManifestProblem::NotAReference,
                    ));
                }
            }
        }
        walk(entry, &base)?;
    }
    Ok(())
}

/// The manifest's secret rules for one configuration object (an edit outside a manifest):
/// the error's path starts at `configuration`.
///
/// ```
/// use pathops_core::provision::check_configuration;
///
/// let ok = serde_json::json!({ "project": "a/b", "webhook_secret_ref": "ref://acme/gitlab/hook" });
/// assert!(check_configuration(ok.as_object().unwrap()).is_ok());
/// let bad = serde_json::json!({ "auth": { "password": "hunter2" } });
/// let err = check_configuration(bad.as_object().unwrap()).unwrap_err();
/// assert_eq!(err.path, "configuration.auth.password");
/// ```
pub fn check_configuration(
    configuration: &serde_json::Map<String, Value>,
) -> Result<(), ManifestError> {
    let doc = serde_json::json!({ "integrations": [{ "configuration": configuration }] });
    refuse_secrets(&doc).map_err(|mut e| {
        e.path = e
            .path
            .strip_prefix("integrations[0].")
            .unwrap_or(&e.path)
            .to_owned();
        e
    })
}

fn is_reference(value: &Value) -> bool {
    value.as_str().is_some_and(|s| AuthRef::parse(s).is_ok())
}

fn is_reference_or_list(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(is_reference),
        other => is_reference(other),
    }
}

/// Every key and string below `value`, depth first, without recursion limits beyond the
/// document's own (the manifest's configuration depth is checked later).
fn walk(value: &Value, path: &str) -> Result<(), ManifestError> {
    let mut stack: Vec<(&Value, String)> = vec![(value, path.to_owned())];
    while let Some((value, path)) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let child_path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if is_secret_key(key) && !child.is_null() {
                        return Err(ManifestError::new(
                            child_path,
                            ManifestProblem::LooksLikeSecret,
                        ));
                    }
                    stack.push((child, child_path));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    stack.push((child, format!("{path}[{i}]")));
                }
            }
            Value::String(text) if is_secret_value(text) => {
                return Err(ManifestError::new(path, ManifestProblem::LooksLikeSecret));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_refused_and_lookalikes_kept() {
        for key in [
            "token",
            "robot_token",
            "Private-Key",
            "password",
            "db_password",
            "webhook_secret",
            "secret_access_key",
            "api_key",
            "credentials",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "token_type",
            "webhook_secret_ref",
            "private_key_ref",
            "access_key_id",
            "project",
            "tokens_ref",
            "secretariat",
            "keyspace",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn secret_values_are_refused_with_their_path() {
        let doc = json!({"integrations": [
            {"name": "a", "configuration": {"project": "x"}},
            {"name": "b", "description": "glpat-abcdefghijklmnop"},
        ]});
        let err = refuse_secrets(&doc).unwrap_err();
        assert_eq!(err.path, "integrations[1].description");
        assert_eq!(err.problem, ManifestProblem::LooksLikeSecret);
        let pem = json!({"integrations": [{"configuration": {"ca": {"nested": [
            "-----BEGIN RSA PRIVATE KEY-----\nMII..."
        ]}}}]});
        assert_eq!(
            refuse_secrets(&pem).unwrap_err().path,
            "integrations[0].configuration.ca.nested[0]"
        );
        let cert =
            json!({"integrations": [{"configuration": {"ca": "-----BEGIN CERTIFICATE-----"}}]});
        assert!(refuse_secrets(&cert).is_ok(), "a certificate is public");
    }

    #[test]
    fn reference_fields_must_hold_references() {
        let doc = json!({"integrations": [{"auth_ref": "hunter2"}]});
        let err = refuse_secrets(&doc).unwrap_err();
        assert_eq!(err.path, "integrations[0].auth_ref");
        assert!(!err.to_string().contains("hunter2"));
        let doc = json!({"integrations": [{"configuration": {"webhook_secret_ref": ["ref://a/b/c", "s3cr3t"]}}]});
        assert_eq!(
            refuse_secrets(&doc).unwrap_err().path,
            "integrations[0].configuration.webhook_secret_ref"
        );
        let ok = json!({"integrations": [{"auth_ref": "ref://a/gitlab/t",
            "configuration": {"webhook_secret_ref": "authref://vault/a/hook"}}]});
        assert!(refuse_secrets(&ok).is_ok());
    }
}
