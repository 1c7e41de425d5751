//! Where a Gitea instance's API lives, and how a repository is named.

use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{BaseUrl, Configuration};
use serde_json::Value;

/// The REST API root: `<base URL>/api/v1`, kept as is when the base URL already ends with
/// `/api/v1`. Gitea and Forgejo serve it under any sub-path the instance is mounted at.
///
/// ```
/// use pathops_connectors::gitea::api_root;
/// use pathops_core::BaseUrl;
///
/// let root = |s: &str| api_root(&BaseUrl::parse(s).unwrap());
/// assert_eq!(root("https://git.example.com"), "https://git.example.com/api/v1");
/// assert_eq!(root("https://example.com/gitea/"), "https://example.com/gitea/api/v1");
/// assert_eq!(root("https://git.example.com/api/v1"), "https://git.example.com/api/v1");
/// ```
pub fn api_root(base_url: &BaseUrl) -> String {
    let base = base_url.as_str();
    if base.ends_with("/api/v1") {
        base.to_owned()
    } else {
        base_url.join("api/v1")
    }
}

/// The web root (where settings pages live): the base URL without a trailing `/api/v1`.
pub(crate) fn web_root(base_url: &BaseUrl) -> String {
    let base = base_url.as_str();
    base.strip_suffix("/api/v1").unwrap_or(base).to_owned()
}

/// A repository, by owner and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRef {
    /// The owner (user or organization).
    pub owner: String,
    /// The repository's name.
    pub name: String,
}

impl RepoRef {
    /// Reads the owner and name from `owner_key` and `repo_key` of a configuration. Gitea
    /// names are letters, digits, `-`, `_` and `.` (owners at most 40 characters, repositories
    /// at most 100, never `.` or `..`); errors name the key.
    pub fn parse(
        configuration: &Configuration,
        owner_key: &'static str,
        repo_key: &'static str,
    ) -> Result<Self, ValidationError> {
        let owner = name(configuration, owner_key, 40)?;
        let repo = name(configuration, repo_key, 100)?;
        if repo == "." || repo == ".." {
            return Err(ValidationError::new(repo_key, Problem::UnknownValue));
        }
        Ok(Self { owner, name: repo })
    }

    /// `owner/name`, as it goes into a path (every character is URL-safe).
    pub fn path(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

fn name(
    configuration: &Configuration,
    key: &'static str,
    max: usize,
) -> Result<String, ValidationError> {
    match configuration.get(key) {
        None | Some(Value::Null) => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.is_empty() => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(ValidationError::new(key, Problem::TooLong { max }))
        }
        Some(Value::String(s)) => match s
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            Some((index, _)) => Err(ValidationError::new(
                key,
                Problem::InvalidCharacter { index },
            )),
            None => Ok(s.clone()),
        },
        Some(_) => Err(ValidationError::new(key, Problem::UnknownValue)),
    }
}
