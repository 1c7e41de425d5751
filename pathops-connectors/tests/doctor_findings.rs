//! The remediation hook: a connector's own findings come first in the doctor's report and
//! replace the generic finding with the same code; the others stay.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, Selection};
use pathops_core::webhook::ChallengeRegistry;
use pathops_core::{
    Capabilities, Capability, CheckResult, Configuration, ConnectorContext, ConnectorRegistry,
    FailureCode, Finding, Integration, IntegrationConnector, NewIntegration, Provider, Result,
    Severity,
};
use pathops_store::MemoryStore;

/// Refuses every credential and knows how to fix that for its provider; warns on success.
#[derive(Debug)]
struct Opinionated {
    fail: bool,
}

#[async_trait]
impl IntegrationConnector for Opinionated {
    fn provider(&self) -> Provider {
        Provider::Jenkins
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }
    async fn validate_config(&self, _: &Configuration) -> Result<()> {
        Ok(())
    }
    async fn test_connection(&self, _: &ConnectorContext) -> CheckResult {
        if self.fail {
            CheckResult::failed(
                FailureCode::Unauthenticated,
                Duration::from_millis(1),
                "refused",
            )
        } else {
            CheckResult::passed(Duration::from_millis(1), "ok")
        }
    }
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.test_connection(ctx).await
    }
    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        match &result.failure {
            Some(FailureCode::Unauthenticated) => vec![
                Finding::new(
                    Severity::Error,
                    "unauthenticated",
                    format!("{} refused the API token", integration.name),
                    result.message.clone(),
                )
                .with_steps(["Create an API token on the user's security page."]),
            ],
            None => vec![Finding::new(
                Severity::Warning,
                "csrf_disabled",
                "CSRF protection is off",
                "the crumb issuer answered 404",
            )],
            Some(_) => Vec::new(),
        }
    }
}

async fn report(fail: bool) -> Vec<Finding> {
    let mut registry = ConnectorRegistry::new();
    registry.register(Arc::new(Opinionated { fail })).unwrap();
    let catalog = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(registry)
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    catalog
        .create(
            &admin,
            NewIntegration::builder("ci", Provider::Jenkins, "https://jenkins.example.com")
                .build()
                .unwrap(),
            true,
        )
        .await
        .unwrap();
    let doctor = Doctor::builder(catalog, Arc::new(ChallengeRegistry::new())).build();
    let report = doctor.run(&admin, &Selection::All).await.unwrap();
    report.integrations[0].findings.clone()
}

#[tokio::test]
async fn a_connectors_finding_replaces_the_generic_one_with_its_code() {
    let findings = report(true).await;
    let unauthenticated: Vec<_> = findings
        .iter()
        .filter(|f| f.code == "unauthenticated")
        .collect();
    assert_eq!(unauthenticated.len(), 1, "{findings:#?}");
    assert_eq!(unauthenticated[0].title, "ci refused the API token");
    assert_eq!(
        unauthenticated[0].steps,
        ["Create an API token on the user's security page."]
    );
    assert_eq!(
        findings[0].code, "unauthenticated",
        "the connector's come first"
    );
}

#[tokio::test]
async fn a_passed_check_keeps_the_connectors_warnings() {
    let findings = report(false).await;
    assert_eq!(
        findings.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
        ["csrf_disabled"]
    );
    assert_eq!(findings[0].severity, Severity::Warning);
}
