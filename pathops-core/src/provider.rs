//! Classification: [`IntegrationType`] (what kind of tool) and [`Provider`] (which product).
//!
//! Both have stable lowercase string forms used by serde, [`FromStr`] and [`Display`](fmt::Display); stored
//! rows and events depend on them, so a form never changes once released.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validate::{Problem, ValidationError};

/// What kind of tool an integration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrationType {
    /// Container registries (Harbor, Docker Hub, GHCR, …).
    Registry,
    /// Source control (GitLab, GitHub, Gitea, …).
    Scm,
    /// CI systems (Jenkins, GitHub Actions, …).
    Ci,
    /// Runtime hosts and their agents.
    Host,
    /// Advisory, VEX and other data feeds.
    Feed,
    /// Generic artifact repositories.
    Artifact,
    /// GitOps controllers (Argo CD).
    GitOps,
    /// Object storage (MinIO, S3-compatible).
    ObjectStorage,
}

impl IntegrationType {
    /// Every integration type, in declaration order.
    pub const ALL: [IntegrationType; 8] = [
        Self::Registry,
        Self::Scm,
        Self::Ci,
        Self::Host,
        Self::Feed,
        Self::Artifact,
        Self::GitOps,
        Self::ObjectStorage,
    ];

    /// The stable string form (`registry`, `scm`, `ci`, `host`, `feed`, `artifact`, `git_ops`,
    /// `object_storage`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Scm => "scm",
            Self::Ci => "ci",
            Self::Host => "host",
            Self::Feed => "feed",
            Self::Artifact => "artifact",
            Self::GitOps => "git_ops",
            Self::ObjectStorage => "object_storage",
        }
    }
}

impl fmt::Display for IntegrationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for IntegrationType {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(ValidationError::new(
                "integration_type",
                Problem::UnknownValue,
            ))
    }
}

macro_rules! providers {
    ($($(#[$doc:meta])* $variant:ident => $name:literal, $ty:ident;)*) => {
        /// Which product an integration talks to.
        ///
        /// Every known provider has a stable lowercase name; anything else is
        /// [`Provider::Custom`] with its own validated name (lowercase ASCII letters, digits and
        /// `-`, 1–64 characters, starting with a letter) and an explicit integration type.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Provider {
            $($(#[$doc])* $variant,)*
            /// A provider PathOps does not know by name. Built only through
            /// [`Provider::custom`] (or [`Provider::parse_with_type`]), which validate it.
            #[non_exhaustive]
            Custom {
                /// The provider's name.
                name: String,
                /// Its integration type.
                integration_type: IntegrationType,
            },
        }

        impl Provider {
            /// Every built-in provider (without `Custom`).
            pub const BUILT_IN: &'static [Provider] = &[$(Provider::$variant,)*];

            /// The stable string form (`gitlab`, `github-app`, `docker-hub`, …).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Provider::$variant => $name,)*
                    Provider::Custom { name, .. } => name,
                }
            }

            /// The kind of tool this provider is.
            pub fn integration_type(&self) -> IntegrationType {
                match self {
                    $(Provider::$variant => IntegrationType::$ty,)*
                    Provider::Custom { integration_type, .. } => *integration_type,
                }
            }

            fn built_in(name: &str) -> Option<Provider> {
                match name {
                    $($name => Some(Provider::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

providers! {
    /// Docker Hub.
    DockerHub => "docker-hub", Registry;
    /// Harbor.
    Harbor => "harbor", Registry;
    /// Amazon Elastic Container Registry.
    Ecr => "ecr", Registry;
    /// Azure Container Registry.
    Acr => "acr", Registry;
    /// Google Container / Artifact Registry.
    Gcr => "gcr", Registry;
    /// GitHub Container Registry.
    Ghcr => "ghcr", Registry;
    /// Quay.
    Quay => "quay", Registry;
    /// JFrog Artifactory.
    Artifactory => "artifactory", Artifact;
    /// Any OCI distribution-spec registry.
    OciRegistry => "oci-registry", Registry;
    /// GitHub (github.com or Enterprise Server) through a GitHub App.
    GitHubApp => "github-app", Scm;
    /// GitLab.
    GitLab => "gitlab", Scm;
    /// Gitea / Forgejo.
    Gitea => "gitea", Scm;
    /// Bitbucket.
    Bitbucket => "bitbucket", Scm;
    /// Azure DevOps Repos.
    AzureDevOps => "azure-devops", Scm;
    /// GitHub Actions.
    GitHubActions => "github-actions", Ci;
    /// GitLab CI.
    GitLabCi => "gitlab-ci", Ci;
    /// Gitea Actions.
    GiteaActions => "gitea-actions", Ci;
    /// Jenkins.
    Jenkins => "jenkins", Ci;
    /// CircleCI.
    CircleCi => "circleci", Ci;
    /// Argo CD.
    ArgoCd => "argocd", GitOps;
    /// MinIO.
    MinIo => "minio", ObjectStorage;
    /// Zastava runtime host agent.
    Zastava => "zastava", Host;
    /// Concelier advisory feed.
    Concelier => "concelier", Feed;
    /// Excititor VEX feed.
    Excititor => "excititor", Feed;
}

impl Provider {
    /// A custom provider, validated: lowercase ASCII letters, digits and `-`, 1–64 characters,
    /// starting with a letter, and not the name of a built-in provider.
    pub fn custom(
        name: impl Into<String>,
        integration_type: IntegrationType,
    ) -> Result<Self, ValidationError> {
        let name = name.into();
        if name.is_empty() {
            return Err(ValidationError::new("provider", Problem::Empty));
        }
        if name.len() > 64 {
            return Err(ValidationError::new(
                "provider",
                Problem::TooLong { max: 64 },
            ));
        }
        if let Some((index, _)) = name
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(ValidationError::new(
                "provider",
                Problem::InvalidCharacter { index },
            ));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ValidationError::new(
                "provider",
                Problem::InvalidCharacter { index: 0 },
            ));
        }
        if Self::built_in(&name).is_some() {
            return Err(ValidationError::new("provider", Problem::UnknownValue));
        }
        Ok(Provider::Custom {
            name,
            integration_type,
        })
    }

    /// Whether this is a [`Provider::Custom`].
    pub fn is_custom(&self) -> bool {
        matches!(self, Provider::Custom { .. })
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Parses a built-in provider name. A custom provider needs its integration type too: use
/// [`Provider::custom`] or [`Provider::parse_with_type`].
impl FromStr for Provider {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::built_in(s).ok_or(ValidationError::new("provider", Problem::UnknownValue))
    }
}

impl Provider {
    /// Parses a provider name: a built-in one, or else a custom one of `integration_type`.
    /// This is how stores read the `(provider, type)` column pair back.
    pub fn parse_with_type(
        name: &str,
        integration_type: IntegrationType,
    ) -> Result<Self, ValidationError> {
        match Self::built_in(name) {
            Some(p) => Ok(p),
            None => Self::custom(name, integration_type),
        }
    }
}

/// Serialized as the plain name for a built-in provider and as
/// `{"custom": "<name>", "type": "<integration type>"}` for a custom one.
impl Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Provider::Custom {
                name,
                integration_type,
            } => CustomRepr {
                custom: name.clone(),
                integration_type: *integration_type,
            }
            .serialize(serializer),
            built_in => serializer.serialize_str(built_in.as_str()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CustomRepr {
    custom: String,
    #[serde(rename = "type")]
    integration_type: IntegrationType,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ProviderRepr {
    Name(String),
    Custom(CustomRepr),
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match ProviderRepr::deserialize(deserializer)? {
            ProviderRepr::Name(name) => name.parse().map_err(serde::de::Error::custom),
            ProviderRepr::Custom(c) => {
                Provider::custom(c.custom, c.integration_type).map_err(serde::de::Error::custom)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_provider_round_trips() {
        assert_eq!(Provider::BUILT_IN.len(), 24);
        for p in Provider::BUILT_IN {
            let name = p.to_string();
            assert_eq!(name, name.to_lowercase());
            assert_eq!(&name.parse::<Provider>().unwrap(), p);
            let json = serde_json::to_string(p).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(&serde_json::from_str::<Provider>(&json).unwrap(), p);
        }
    }

    #[test]
    fn providers_know_their_type() {
        assert_eq!(Provider::GitLab.integration_type(), IntegrationType::Scm);
        assert_eq!(
            Provider::Harbor.integration_type(),
            IntegrationType::Registry
        );
        assert_eq!(Provider::Jenkins.integration_type(), IntegrationType::Ci);
        assert_eq!(Provider::ArgoCd.integration_type(), IntegrationType::GitOps);
        assert_eq!(
            Provider::MinIo.integration_type(),
            IntegrationType::ObjectStorage
        );
        assert_eq!(
            Provider::Concelier.integration_type(),
            IntegrationType::Feed
        );
        assert_eq!(Provider::Zastava.integration_type(), IntegrationType::Host);
    }

    #[test]
    fn custom_providers_validate_and_round_trip() {
        let p = Provider::custom("acme-scanner", IntegrationType::Feed).unwrap();
        assert_eq!(p.integration_type(), IntegrationType::Feed);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"custom":"acme-scanner","type":"feed"}"#);
        assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
        assert_eq!(
            Provider::parse_with_type("acme-scanner", IntegrationType::Feed).unwrap(),
            p
        );
        assert_eq!(
            Provider::custom("gitlab", IntegrationType::Scm)
                .unwrap_err()
                .problem,
            Problem::UnknownValue
        );
        assert_eq!(
            Provider::custom("Acme", IntegrationType::Scm)
                .unwrap_err()
                .problem,
            Problem::InvalidCharacter { index: 0 }
        );
        assert!("no-such-provider".parse::<Provider>().is_err());
    }

    #[test]
    fn integration_types_round_trip() {
        for t in IntegrationType::ALL {
            assert_eq!(t.as_str().parse::<IntegrationType>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
    }
}
