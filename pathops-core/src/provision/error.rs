//! [`ManifestError`]: a manifest or plan refused, naming the field and never its value.

use std::fmt;

use crate::validate::ValidationError;

/// A manifest was refused. [`path`](Self::path) names the field (`integrations[2].auth_ref`,
/// `integrations[0].configuration.robot_password`); the message never holds its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ManifestError {
    /// Where in the manifest (empty for the document as a whole).
    pub path: String,
    /// What was wrong.
    pub problem: ManifestProblem,
}

impl ManifestError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, problem: ManifestProblem) -> Self {
        Self {
            path: path.into(),
            problem,
        }
    }

    /// The validation error of entry `index`, at the field it names.
    pub(crate) fn entry(index: usize, e: ValidationError) -> Self {
        let mut path = format!("integrations[{index}].{}", manifest_field(e.field));
        let mut problem = &e.problem;
        while let crate::validate::Problem::AtKey {
            key,
            problem: inner,
        } = problem
        {
            path.push('.');
            path.push_str(key);
            problem = inner;
        }
        Self::new(path, ManifestProblem::Invalid(problem.to_string()))
    }
}

/// The manifest's name of an entity field (`owner_id` is `owner` in a manifest).
fn manifest_field(field: &str) -> &str {
    match field {
        "owner_id" => "owner",
        other => other,
    }
}

/// What was wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestProblem {
    /// Neither YAML nor JSON (the position, when known).
    Syntax(String),
    /// The document is not a mapping.
    NotAnObject,
    /// A required field is missing.
    Missing,
    /// `api_version` is not `pathops.catalog/v1`.
    UnsupportedVersion,
    /// An unknown field or a value of the wrong type (values redacted).
    Shape(String),
    /// Two entries have the same name.
    DuplicateName,
    /// The value is a credential, not a reference: it belongs in a secret store, and the
    /// manifest holds its `ref://` or `authref://` reference (in `auth_ref` or a `*_ref` key).
    LooksLikeSecret,
    /// A reference field whose value is not a reference.
    NotAReference,
    /// The value fails the integration's validation.
    Invalid(String),
    /// A provider change to another integration type: delete the integration and create it
    /// anew.
    TypeChange,
    /// The reference policy refuses this reference for the target tenant.
    RefDenied(String),
}

impl fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(detail) => f.write_str(detail),
            Self::NotAnObject => f.write_str("the manifest must be a mapping"),
            Self::Missing => f.write_str("required"),
            Self::UnsupportedVersion => {
                write!(f, "unsupported version; expected {}", super::API_VERSION)
            }
            Self::Shape(detail) => f.write_str(detail),
            Self::DuplicateName => f.write_str("name given twice"),
            Self::LooksLikeSecret => f.write_str(
                "looks like a secret: PathOps holds references only; store the value in a \
                 secret backend and reference it (auth_ref or a *_ref key)",
            ),
            Self::NotAReference => {
                f.write_str("not a reference (ref://scope/provider/key or authref://backend/path)")
            }
            Self::Invalid(detail) => f.write_str(detail),
            Self::TypeChange => f.write_str(
                "the provider belongs to another integration type; delete and re-create it",
            ),
            Self::RefDenied(detail) => write!(f, "reference not allowed here: {detail}"),
        }
    }
}
