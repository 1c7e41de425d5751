//! Choosing connectors by provider at run time. The list of providers never shrinks with
//! features: asking for one whose feature is off is an [`Error::InvalidConfig`] naming the
//! feature, not a missing match arm.

use std::sync::Arc;

use pathops_core::{
    ConnectorRegistry, Error, IntegrationConnector, Provider, ResourceKind, Result,
};

use crate::http::HttpPolicy;

/// Every provider this crate implements, with the cargo feature that enables it.
pub const PROVIDERS: [(Provider, &str); 21] = [
    (Provider::GitLab, "gitlab"),
    (Provider::GitHubApp, "github-app"),
    (Provider::Harbor, "harbor"),
    (Provider::OciRegistry, "oci"),
    (Provider::DockerHub, "oci"),
    (Provider::Ghcr, "oci"),
    (Provider::Quay, "oci"),
    (Provider::Ecr, "oci"),
    (Provider::Acr, "oci"),
    (Provider::Gcr, "oci"),
    (Provider::Artifactory, "oci"),
    (Provider::Jenkins, "jenkins"),
    (Provider::ArgoCd, "argocd"),
    (Provider::CircleCi, "circleci"),
    (Provider::MinIo, "minio"),
    (Provider::GitHubActions, "github-actions"),
    (Provider::GitLabCi, "gitlab-ci"),
    (Provider::GiteaActions, "gitea-actions"),
    (Provider::Gitea, "gitea"),
    (Provider::Bitbucket, "bitbucket"),
    (Provider::AzureDevOps, "azure-devops"),
];

/// The connector features of [`PROVIDERS`] and whether each is on in this build.
const FEATURES: [(&str, bool); 14] = [
    ("gitlab", cfg!(feature = "gitlab")),
    ("github-app", cfg!(feature = "github-app")),
    ("harbor", cfg!(feature = "harbor")),
    ("oci", cfg!(feature = "oci")),
    ("jenkins", cfg!(feature = "jenkins")),
    ("argocd", cfg!(feature = "argocd")),
    ("circleci", cfg!(feature = "circleci")),
    ("minio", cfg!(feature = "minio")),
    ("github-actions", cfg!(feature = "github-actions")),
    ("gitlab-ci", cfg!(feature = "gitlab-ci")),
    ("gitea-actions", cfg!(feature = "gitea-actions")),
    ("gitea", cfg!(feature = "gitea")),
    ("bitbucket", cfg!(feature = "bitbucket")),
    ("azure-devops", cfg!(feature = "azure-devops")),
];

fn feature_enabled(feature: &str) -> bool {
    FEATURES.iter().any(|(name, on)| *name == feature && *on)
}

/// Whether the connector for `provider` is compiled in.
pub fn is_enabled(provider: &Provider) -> bool {
    PROVIDERS
        .iter()
        .any(|(p, feature)| p == provider && feature_enabled(feature))
}

fn disabled(provider: &Provider) -> Error {
    match PROVIDERS.iter().find(|(p, _)| p == provider) {
        Some((_, feature)) => Error::InvalidConfig {
            message: format!(
                "the {provider} connector needs the `{feature}` feature of pathops-connectors"
            ),
        },
        None => Error::NotFound {
            kind: ResourceKind::Connector,
            id: provider.to_string(),
        },
    }
}

/// The connector for `provider`, built with `policy`.
#[allow(unused_variables)]
pub fn connector_for(
    provider: &Provider,
    policy: &HttpPolicy,
) -> Result<Arc<dyn IntegrationConnector>> {
    match provider {
        #[cfg(feature = "gitlab")]
        Provider::GitLab => Ok(Arc::new(
            crate::gitlab::GitLabConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "github-app")]
        Provider::GitHubApp => Ok(Arc::new(
            crate::github::GitHubAppConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "harbor")]
        Provider::Harbor => Ok(Arc::new(
            crate::harbor::HarborConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "github-actions")]
        Provider::GitHubActions => Ok(Arc::new(
            crate::github::actions::GitHubActionsConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "gitlab-ci")]
        Provider::GitLabCi => Ok(Arc::new(
            crate::gitlab::ci::GitLabCiConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "gitea-actions")]
        Provider::GiteaActions => Ok(Arc::new(
            crate::gitea::actions::GiteaActionsConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "gitea")]
        Provider::Gitea => Ok(Arc::new(
            crate::gitea::GiteaConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "bitbucket")]
        Provider::Bitbucket => Ok(Arc::new(
            crate::bitbucket::BitbucketConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "azure-devops")]
        Provider::AzureDevOps => Ok(Arc::new(
            crate::azure_devops::AzureDevOpsConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "oci")]
        p if crate::oci::OciConnector::PROVIDERS.contains(p) => Ok(Arc::new(
            crate::oci::OciConnector::builder(provider.clone())
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "jenkins")]
        Provider::Jenkins => Ok(Arc::new(
            crate::jenkins::JenkinsConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "argocd")]
        Provider::ArgoCd => Ok(Arc::new(
            crate::argocd::ArgoCdConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "circleci")]
        Provider::CircleCi => Ok(Arc::new(
            crate::circleci::CircleCiConnector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        #[cfg(feature = "minio")]
        Provider::MinIo => Ok(Arc::new(
            crate::s3::S3Connector::builder()
                .with_http(policy.clone())
                .build()?,
        )),
        other => Err(disabled(other)),
    }
}

/// A registry holding every connector compiled in, each built with `policy`.
pub fn registry_with_all(policy: &HttpPolicy) -> Result<ConnectorRegistry> {
    let mut registry = ConnectorRegistry::new();
    for (provider, _) in PROVIDERS.iter().filter(|(p, _)| is_enabled(p)) {
        registry.register(connector_for(provider, policy)?)?;
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "oci")]
    #[test]
    fn the_oci_rows_of_the_table_are_the_connectors_own_providers() {
        let rows: Vec<_> = PROVIDERS
            .iter()
            .filter(|(_, feature)| *feature == "oci")
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(rows, crate::oci::OciConnector::PROVIDERS.to_vec());
    }

    use super::*;
    use pathops_core::Capability;

    #[test]
    fn enabled_providers_build_and_disabled_ones_name_their_feature() {
        let policy = HttpPolicy::default();
        let registry = registry_with_all(&policy).unwrap();
        for (provider, feature) in PROVIDERS {
            if is_enabled(&provider) {
                assert!(registry.get(&provider).is_some(), "{provider}");
            } else {
                let err = connector_for(&provider, &policy).unwrap_err();
                assert!(
                    err.to_string().contains(&format!("`{feature}` feature")),
                    "{err}"
                );
            }
        }
        // A provider this crate has no connector for (a plugin's) is not found.
        let custom = Provider::custom("acme-scanner", pathops_core::IntegrationType::Feed).unwrap();
        assert!(matches!(
            connector_for(&custom, &policy),
            Err(Error::NotFound { .. })
        ));
        // Webhook tests are part of the connector contract: the SCM connectors offer one,
        // Harbor none.
        for (provider, capability) in [
            (Provider::GitLab, Capability::WebhookTest),
            (Provider::GitHubApp, Capability::HookPing),
            (Provider::Gitea, Capability::WebhookTest),
            (Provider::Bitbucket, Capability::WebhookTest),
            (Provider::AzureDevOps, Capability::WebhookTest),
        ] {
            if let Some(c) = registry.get(&provider) {
                assert!(c.capabilities().supports(capability), "{provider}");
            }
        }
        if let Some(harbor) = registry.get(&Provider::Harbor) {
            let caps = harbor.capabilities();
            assert!(!caps.supports(Capability::WebhookTest));
            assert!(!caps.supports(Capability::HookPing));
        }
    }
}
