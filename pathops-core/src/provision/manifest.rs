//! The `pathops.catalog/v1` manifest: what a tenant's catalog should hold, by name.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ManifestError, ManifestProblem};
use super::secrets;
use crate::auth_ref::AuthRef;
use crate::integration::{Integration, NewIntegration};
use crate::provider::{IntegrationType, Provider};

/// The one manifest version this release reads and writes.
pub const API_VERSION: &str = "pathops.catalog/v1";

/// A catalog manifest: the integrations a tenant should have, each by its (unique) name.
///
/// Read it with [`Manifest::parse`] (YAML or JSON), write it with [`Manifest::to_yaml`] or
/// [`Manifest::to_json`]. It holds references only: parsing refuses a credential value
/// anywhere in it (see [`Manifest::parse`]).
///
/// ```
/// use pathops_core::provision::Manifest;
///
/// let manifest = Manifest::parse(r#"
/// api_version: pathops.catalog/v1
/// integrations:
///   - name: GitLab
///     provider: gitlab
///     base_url: https://gitlab.example.com
///     auth_ref: ref://acme/gitlab/ci-token
///     configuration: { project: platform/api, webhook_secret_ref: ref://acme/gitlab/hook }
///     environment: staging
///     tags: [team:platform]
/// "#)?;
/// assert_eq!(manifest.integrations[0].name, "GitLab");
///
/// let err = Manifest::parse(r#"{"api_version": "pathops.catalog/v1", "integrations": [
///   {"name": "Harbor", "provider": "harbor", "base_url": "https://harbor.example",
///    "configuration": {"robot_password": "hunter2"}}]}"#).unwrap_err();
/// assert_eq!(err.path, "integrations[0].configuration.robot_password");
/// assert!(!err.to_string().contains("hunter2"));
/// # Ok::<(), pathops_core::provision::ManifestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// The integrations, by name.
    #[serde(default)]
    pub integrations: Vec<IntegrationSpec>,
}

/// One integration of a [`Manifest`], as written in it (validated by [`Manifest::parse`]
/// and again when planned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSpec {
    /// The integration's name, the key a plan matches by.
    pub name: String,
    /// The integration type, when asserted (it must match the provider's).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub integration_type: Option<IntegrationType>,
    /// Which product.
    pub provider: Provider,
    /// Where it is reached.
    pub base_url: String,
    /// The reference of its credential (`ref://…` or `authref://…`), never the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_ref: Option<String>,
    /// Provider-specific settings. References (webhook secrets, keys) go in `*_ref` keys.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub configuration: Map<String, Value>,
    /// The deployment environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The accountable owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it should be paused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Why, when `paused` (default [`DEFAULT_PAUSE_REASON`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
}

/// The pause reason of a manifest entry that is `paused` without one.
pub const DEFAULT_PAUSE_REASON: &str = "paused by the catalog manifest";

/// A field [`Manifest::set`] can set on every entry.
const SETTABLE: [&str; 2] = ["environment", "owner"];

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            integrations: Vec::new(),
        }
    }

    /// Reads a manifest from YAML or JSON (JSON is YAML, so one parser reads both).
    ///
    /// Refused, with the [`path`](ManifestError::path) of the field and never its value:
    /// syntax errors; another `api_version`; unknown fields; a name given twice; any value
    /// that fails the integration's own validation; and anything that looks like a
    /// credential rather than a reference: an `auth_ref` or `*_ref` configuration key that is
    /// not an [`AuthRef`], a key anywhere whose name says it holds a secret (`token`,
    /// `password`, `secret`, `private_key`, `api_key`, `access_key`, `credentials`, … at the
    /// end of the name: `token_type` is fine, `robot_token` is not), and a string that is a
    /// private key or a well-known token format (`-----BEGIN … PRIVATE KEY-----`, `glpat-`,
    /// `ghp_`, `github_pat_`, …).
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let value: Value = yaml_serde::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            ManifestError::new("", ManifestProblem::Syntax(format!("not YAML or JSON{at}")))
        })?;
        Self::from_value(value)
    }

    /// Reads a manifest from a JSON value, with the checks of [`parse`](Self::parse).
    pub fn from_value(value: Value) -> Result<Self, ManifestError> {
        if !value.is_object() {
            return Err(ManifestError::new("", ManifestProblem::NotAnObject));
        }
        // Secrets first: nothing below may echo a value that a secret check would refuse.
        secrets::refuse_secrets(&value)?;
        let Value::Object(mut doc) = value else {
            return Err(ManifestError::new("", ManifestProblem::NotAnObject));
        };
        match doc.get("api_version") {
            Some(Value::String(v)) if v == API_VERSION => {}
            Some(_) => {
                return Err(ManifestError::new(
                    "api_version",
                    ManifestProblem::UnsupportedVersion,
                ));
            }
            None => return Err(ManifestError::new("api_version", ManifestProblem::Missing)),
        }
        let entries = match doc.remove("integrations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ManifestError::new(
                    "integrations",
                    ManifestProblem::Shape("must be a list".to_owned()),
                ));
            }
        };
        if let Some(key) = doc.keys().find(|k| k.as_str() != "api_version") {
            return Err(ManifestError::new(
                key.clone(),
                ManifestProblem::Shape("unknown field".to_owned()),
            ));
        }
        let mut manifest = Self::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let spec: IntegrationSpec = serde_json::from_value(entry).map_err(|e| {
                ManifestError::new(
                    format!("integrations[{index}]"),
                    ManifestProblem::Shape(redact(&e.to_string())),
                )
            })?;
            manifest.integrations.push(spec);
        }
        // The secret rules held for the raw document; the entries' own rules remain.
        manifest.inputs()?;
        Ok(manifest)
    }

    /// Checks every entry (the rules of [`parse`](Self::parse) for a manifest built in code):
    /// each builds a valid [`NewIntegration`], names are unique, and no secret is held.
    pub fn validate(&self) -> Result<(), ManifestError> {
        self.inputs_checked().map(drop)
    }

    /// [`validate`](Self::validate), returning each entry's creation input, in order.
    pub(crate) fn inputs_checked(&self) -> Result<Vec<NewIntegration>, ManifestError> {
        if self.api_version != API_VERSION {
            return Err(ManifestError::new(
                "api_version",
                ManifestProblem::UnsupportedVersion,
            ));
        }
        let value = serde_json::to_value(self)
            .map_err(|e| ManifestError::new("", ManifestProblem::Shape(redact(&e.to_string()))))?;
        secrets::refuse_secrets(&value)?;
        self.inputs()
    }

    /// Each entry's creation input (names unique, every field valid), without the secret
    /// rules.
    fn inputs(&self) -> Result<Vec<NewIntegration>, ManifestError> {
        let mut names = std::collections::BTreeSet::new();
        let mut inputs = Vec::with_capacity(self.integrations.len());
        for (index, spec) in self.integrations.iter().enumerate() {
            if !names.insert(spec.name.as_str()) {
                return Err(ManifestError::new(
                    format!("integrations[{index}].name"),
                    ManifestProblem::DuplicateName,
                ));
            }
            inputs.push(
                spec.to_new_integration()
                    .map_err(|e| ManifestError::entry(index, e))?,
            );
        }
        Ok(inputs)
    }

    /// The manifest of `integrations` (an export), sorted by name.
    pub fn from_integrations<'a>(integrations: impl IntoIterator<Item = &'a Integration>) -> Self {
        let mut manifest = Self::new();
        manifest.integrations = integrations
            .into_iter()
            .map(IntegrationSpec::from_integration)
            .collect();
        manifest.integrations.sort_by(|a, b| a.name.cmp(&b.name));
        manifest
    }

    /// Rewrites every reference (`auth_ref` and `*_ref` configuration values) that starts
    /// with `from` to start with `to` instead, as environment promotion needs
    /// (`ref://staging/` → `ref://prod/`). Returns how many references changed. The result
    /// must still be a valid reference.
    pub fn map_refs(&mut self, from: &str, to: &str) -> Result<usize, ManifestError> {
        let mut changed = 0;
        let rewrite = |text: &mut String, changed: &mut usize| {
            if let Some(rest) = text.strip_prefix(from) {
                *text = format!("{to}{rest}");
                *changed += 1;
            }
        };
        for (index, spec) in self.integrations.iter_mut().enumerate() {
            if let Some(auth_ref) = &mut spec.auth_ref {
                rewrite(auth_ref, &mut changed);
                AuthRef::parse(auth_ref).map_err(|_| {
                    ManifestError::new(
                        format!("integrations[{index}].auth_ref"),
                        ManifestProblem::NotAReference,
                    )
                })?;
            }
            for (key, value) in spec.configuration.iter_mut() {
                if !key.ends_with(crate::secret::CONFIGURATION_REF_SUFFIX) {
                    continue;
                }
                let texts: Vec<&mut Value> = match value {
                    Value::Array(items) => items.iter_mut().collect(),
                    other => vec![other],
                };
                for text in texts {
                    if let Value::String(text) = text {
                        rewrite(text, &mut changed);
                        AuthRef::parse(text).map_err(|_| {
                            ManifestError::new(
                                format!("integrations[{index}].configuration.{key}"),
                                ManifestProblem::NotAReference,
                            )
                        })?;
                    }
                }
            }
        }
        Ok(changed)
    }

    /// Sets `field` to `value` on every entry: `environment` or `owner` (promotion's
    /// `--set environment=production`). An empty value clears it.
    pub fn set(&mut self, field: &str, value: &str) -> Result<(), ManifestError> {
        let value = (!value.is_empty()).then(|| value.to_owned());
        for spec in &mut self.integrations {
            match field {
                "environment" => spec.environment = value.clone(),
                "owner" => spec.owner = value.clone(),
                _ => {
                    return Err(ManifestError::new(
                        field.to_owned(),
                        ManifestProblem::Shape(format!(
                            "cannot be set; settable fields: {}",
                            SETTABLE.join(", ")
                        )),
                    ));
                }
            }
        }
        self.validate()
    }

    /// The manifest as YAML.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(self).unwrap_or_default()
    }

    /// The manifest as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

impl IntegrationSpec {
    /// The spec of an existing integration (what an export writes).
    pub fn from_integration(i: &Integration) -> Self {
        Self {
            name: i.name.as_str().to_owned(),
            integration_type: None,
            provider: i.provider.clone(),
            base_url: i.base_url.as_str().to_owned(),
            auth_ref: i.auth_ref.as_ref().map(|r| r.as_str().to_owned()),
            configuration: i.configuration.as_map().clone(),
            environment: i.environment.as_ref().map(|e| e.as_str().to_owned()),
            tags: i.tags.as_slice().to_vec(),
            owner: i.owner_id.as_ref().map(|o| o.as_str().to_owned()),
            description: i.description.as_ref().map(|d| d.as_str().to_owned()),
            paused: i.is_paused(),
            pause_reason: i
                .pause_reason
                .clone()
                .filter(|r| i.is_paused() && r != DEFAULT_PAUSE_REASON),
        }
    }

    /// The validated creation input of this entry.
    pub fn to_new_integration(&self) -> Result<NewIntegration, crate::ValidationError> {
        let mut builder =
            NewIntegration::builder(&self.name, self.provider.clone(), &self.base_url)
                .with_configuration(Value::Object(self.configuration.clone()))
                .with_tags(self.tags.iter().cloned());
        if let Some(t) = self.integration_type {
            builder = builder.with_integration_type(t);
        }
        if let Some(r) = &self.auth_ref {
            builder = builder.with_auth_ref(r);
        }
        if let Some(e) = &self.environment {
            builder = builder.with_environment(e);
        }
        if let Some(o) = &self.owner {
            builder = builder.with_owner(o);
        }
        if let Some(d) = &self.description {
            builder = builder.with_description(d);
        }
        builder.build()
    }

    /// The reason the entry is paused with, when it is.
    pub fn pause_reason(&self) -> Option<&str> {
        self.paused
            .then(|| self.pause_reason.as_deref().unwrap_or(DEFAULT_PAUSE_REASON))
    }
}

/// A serde message with every quoted value removed: `invalid type: string "x", expected …`
/// names the type, never the text.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_quoted_values() {
        assert_eq!(
            redact(r#"invalid type: string "hunter2", expected a boolean"#),
            r#"invalid type: string "…", expected a boolean"#
        );
        assert_eq!(redact("unknown field `x`"), "unknown field `x`");
    }
}
