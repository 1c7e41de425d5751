//! The doctor's run, shared by the `doctor` binary and `pathops doctor`: the catalog (the
//! demo's or a real one), the receiver, the checks with their progress, the output and the
//! exit status.

use std::process::ExitCode;
use std::sync::Arc;

use crate::args::Options;
use crate::{demo, progress, receiver, render, secrets, store};
use pathops_connectors::directping::DirectPingConnector;
use pathops_connectors::http::HttpPolicy;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, DoctorReport};
use pathops_core::error::chain;
use pathops_core::webhook::ChallengeRegistry;
use pathops_core::{ConnectorRegistry, Provider};

/// Every finding fixed.
const ALL_PASSED: u8 = 0;
/// Findings to fix.
const FINDINGS: u8 = 1;
/// The doctor could not run.
const COULD_NOT_RUN: u8 = 3;
/// Nothing was checked: no integration in the tenant, or every one paused.
const NOTHING_CHECKED: u8 = 4;

/// Runs the doctor as `options` say, prints the report and returns the exit status.
pub(crate) async fn main(options: Options) -> ExitCode {
    match run(&options).await {
        Ok(report) => {
            if options.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("doctor: the report does not serialize: {e}");
                        return ExitCode::from(COULD_NOT_RUN);
                    }
                }
            } else if options.yaml {
                match yaml_serde::to_string(&report) {
                    Ok(yaml) => print!("{yaml}"),
                    Err(e) => {
                        eprintln!("doctor: the report does not serialize: {e}");
                        return ExitCode::from(COULD_NOT_RUN);
                    }
                }
            } else {
                let style = render::Style::detect();
                print!("{}", render::table(&report, style));
                print!("{}", render::fixes(&report, style));
            }
            if report.checked() == 0 {
                eprintln!("{}", render::nothing_checked(&report));
                return ExitCode::from(NOTHING_CHECKED);
            }
            ExitCode::from(if report.all_passed() {
                ALL_PASSED
            } else {
                FINDINGS
            })
        }
        Err(e) => {
            eprintln!("doctor: {e}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

/// Sets up the catalog (the demo's or `--catalog`), serves the receiver and runs the doctor
/// over every integration of the tenant.
async fn run(options: &Options) -> Result<DoctorReport, String> {
    let challenges = Arc::new(ChallengeRegistry::new());
    let bound = receiver::bind(options.listen.as_deref(), options.public_url.clone()).await?;
    let public_url = bound.public_url.clone();
    let tenant = match &options.tenant {
        Some(t) => t.clone(),
        None => "acme"
            .parse()
            .map_err(|e| format!("the demo tenant: {e}"))?,
    };
    let principal = Principal::admin(
        tenant.clone(),
        "pathops-doctor"
            .parse()
            .map_err(|e| format!("the doctor's actor id: {e}"))?,
    );
    // The demo's fakes live as long as this binding.
    let (demo, store, secrets) = match &options.catalog {
        None => {
            let demo = demo::Demo::start(tenant).await?;
            let store = store::demo(demo.dir()).await?;
            let secrets = demo.resolver();
            eprintln!(
                "doctor: demo catalog with fake GitLab, GitHub, Gitea, Bitbucket Data Center, Azure DevOps, Harbor, GHCR, Jenkins, Argo CD, MinIO and a direct-ping tool on \
                 127.0.0.1; receiver at {public_url}"
            );
            (Some(demo), store, secrets)
        }
        Some(url) => (
            None,
            store::open(url, options.init).await?,
            secrets::resolver(options.secrets_dir.as_deref())?,
        ),
    };
    let catalog = Catalog::builder(store)
        .with_connectors(connectors()?)
        .with_secrets(secrets)
        // Files under --secrets-dir and Vault paths are laid out per tenant, like the ref://
        // scopes.
        .with_auth_ref_policy(secrets::policy())
        .build()
        .map_err(|e| format!("the catalog: {}", chain(&e)))?;
    if let Some(demo) = &demo {
        demo.register(&catalog, &principal, &public_url).await?;
    }
    let _receiver = bound.serve(challenges.clone());
    let doctor = Doctor::builder(catalog.clone(), challenges)
        .with_public_url(public_url)
        .build();
    let report = progress::run(&doctor, &principal)
        .await
        .map_err(|e| format!("the doctor: {}", chain(&e)))?;
    drop(demo);
    Ok(report)
}

/// Every connector compiled into pathops-connectors, plus the direct ping for PathOps's own
/// agents and feeds.
pub(crate) fn connectors() -> Result<ConnectorRegistry, String> {
    let policy = HttpPolicy::default();
    let mut registry = pathops_connectors::registry::registry_with_all(&policy)
        .map_err(|e| format!("the connectors: {}", chain(&e)))?;
    for provider in [Provider::Zastava, Provider::Concelier, Provider::Excititor] {
        let connector = DirectPingConnector::builder(provider)
            .with_http(policy.clone())
            .build()
            .map_err(|e| format!("the direct-ping connector: {}", chain(&e)))?;
        registry.replace(Arc::new(connector));
    }
    Ok(registry)
}
