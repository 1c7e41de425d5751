//! Walks one integration through its lifecycle with the core types only: validate input,
//! resolve its credential reference, apply lifecycle events, and print each step.
//!
//! Run with `cargo run -p pathops-examples --bin lifecycle`.

#![allow(clippy::print_stdout)]

use pathops_core::lifecycle::{LifecycleEvent, transition};
use pathops_core::secret::{EnvResolver, ResolveContext, SecretPurpose};
use pathops_core::{
    Clock, HealthPolicy, Integration, IntegrationId, NewIntegration, Provider, SecretResolver,
    SystemClock,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = SystemClock;
    let input = NewIntegration::builder(
        "GitLab prod",
        Provider::GitLab,
        "https://gitlab.example.com/",
    )
    .with_auth_ref("ref://acme/gitlab/ci-token")
    .with_environment("production")
    .with_tags(["team:platform", "scm"])
    .with_configuration(serde_json::json!({ "project": "platform/api", "hook_id": 7 }))
    .build()?;
    let mut integration = Integration::new_draft(
        IntegrationId::new(),
        "acme".parse()?,
        input,
        "alice@example.com".parse()?,
        clock.now(),
    );
    println!(
        "created {} ({}) at {} as {}",
        integration.name, integration.provider, integration.base_url, integration.status
    );

    // Credentials are references; a resolver turns them into a secret only at call time. The
    // environment is passed in explicitly here so the example never depends on the caller's.
    let resolver =
        EnvResolver::from_vars([("PATHOPS_SECRET_ACME__GITLAB__CI_TOKEN", "glpat-example")]);
    let auth_ref = integration
        .auth_ref
        .clone()
        .ok_or("the example sets an auth ref")?;
    // The catalog passes who the secret is for; a resolver may pick a per-tenant credential.
    let ctx = ResolveContext::for_integration(&integration, SecretPurpose::Credential);
    let secret = resolver.resolve(&ctx, &auth_ref).await?;
    println!("resolved {auth_ref} -> {secret:?} (secrets never print)");

    let policy = HealthPolicy::default();
    let script = [
        LifecycleEvent::Submit,
        LifecycleEvent::CheckPassed,
        LifecycleEvent::CheckFailed,
        LifecycleEvent::CheckFailed,
        LifecycleEvent::CheckFailed,
        LifecycleEvent::CheckPassed,
        LifecycleEvent::Pause,
        LifecycleEvent::Submit,
        LifecycleEvent::Resume,
    ];
    for event in script {
        match transition(integration.lifecycle_state(), event, &policy) {
            Ok(t) => {
                integration.apply_transition(&t);
                println!(
                    "{event:>13}: {} -> {} (failures: {})",
                    t.from.status, t.to.status, t.to.consecutive_failures
                );
            }
            Err(refused) => println!("{event:>13}: refused: {refused}"),
        }
    }
    Ok(())
}
