//! A sentinel secret must never appear in the Debug, Display or serde output of any core type
//! that holds or touches a secret, nor in errors produced from input that contains one.

use std::sync::Arc;
use std::time::Duration;

use pathops_core::secret::{
    ChainResolver, EnvResolver, FileResolver, ResolveContext, SecretPurpose, StaticResolver,
};
use pathops_core::{
    AuthRef, BaseUrl, ConnectorContext, Error, IntegrationId, NewIntegration, Provider,
    SecretResolver,
};
use secrecy::{ExposeSecret, SecretString};

const SENTINEL: &str = "SENTINEL-7f3a9c-secret";

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(SENTINEL),
        "{what} leaked the sentinel: {text}"
    );
    assert!(
        !text.contains("7f3a9c"),
        "{what} leaked part of the sentinel: {text}"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn resolvers_never_print_their_secrets() {
    let auth_ref: AuthRef = "ref://acme/gitlab/token".parse().unwrap();
    let fixed = StaticResolver::new().with(auth_ref.clone(), SENTINEL);
    let env = EnvResolver::from_vars([("PATHOPS_SECRET_ACME__GITLAB__TOKEN", SENTINEL)]);
    assert_clean("StaticResolver Debug", &format!("{fixed:?}"));
    assert_clean("EnvResolver Debug", &format!("{env:?}"));
    let chain = ChainResolver::new()
        .scope("acme", Arc::new(fixed))
        .fallback(Arc::new(env));
    assert_clean("ChainResolver Debug", &format!("{chain:?}"));
    assert_clean("ChainResolver Debug (pretty)", &format!("{chain:#?}"));

    let ctx = ResolveContext::new("acme".parse().unwrap(), SecretPurpose::Credential);
    let secret = runtime().block_on(chain.resolve(&ctx, &auth_ref)).unwrap();
    assert_eq!(
        secret.expose_secret(),
        SENTINEL,
        "the resolver did resolve it"
    );
    assert_clean("SecretString Debug", &format!("{secret:?}"));

    let missing = runtime()
        .block_on(chain.resolve(&ctx, &"ref://acme/gitlab/other".parse().unwrap()))
        .unwrap_err();
    assert_clean("NotFound Display", &missing.to_string());
    assert_clean("NotFound Debug", &format!("{missing:?}"));

    let files = FileResolver::new(std::env::temp_dir());
    assert_clean("FileResolver Debug", &format!("{files:?}"));
}

#[test]
fn connector_context_redacts_the_secret() {
    let integration = pathops_testkit_free_integration();
    let ctx = ConnectorContext::new(
        Arc::new(integration),
        Some(SecretString::from(SENTINEL)),
        Duration::from_secs(5),
    );
    assert_clean("ConnectorContext Debug", &format!("{ctx:?}"));
    assert_clean("ConnectorContext Debug (pretty)", &format!("{ctx:#?}"));
    assert!(format!("{ctx:?}").contains("REDACTED"));
}

#[test]
fn errors_from_input_holding_a_secret_do_not_echo_it() {
    // A token pasted where an auth ref belongs.
    let e = AuthRef::parse(&format!("ref://acme/gitlab/{SENTINEL} ")).unwrap_err();
    assert_clean("AuthRefError Display", &e.to_string());
    assert_clean("AuthRefError Debug", &format!("{e:?}"));
    let e = AuthRef::parse(SENTINEL).unwrap_err();
    assert_clean("AuthRefError Display", &e.to_string());

    // Credentials embedded in a URL.
    for url in [
        format!("https://user:{SENTINEL}@gitlab.example.com"),
        format!("https://{SENTINEL}@gitlab.example.com"),
        format!("https://gitlab.example.com/?private_token={SENTINEL}"),
        format!("https://gitlab.example.com/#{SENTINEL}"),
        format!("ftp://gitlab.example.com/{SENTINEL}"),
        format!("https://gitlab.example.com:99999/{SENTINEL}"),
    ] {
        let e = BaseUrl::parse(&url).unwrap_err();
        assert_clean("ValidationError Display", &e.to_string());
        assert_clean("ValidationError Debug", &format!("{e:?}"));
        let wrapped = Error::from(e);
        assert_clean("Error Display", &wrapped.to_string());
        assert_clean("Error Debug", &format!("{wrapped:?}"));
    }

    // The unvalidated builder holds raw input; its Debug must not show it.
    let builder = NewIntegration::builder(
        "GitLab",
        Provider::GitLab,
        format!("https://user:{SENTINEL}@gitlab.example.com"),
    )
    .with_auth_ref(SENTINEL);
    assert_clean("NewIntegrationBuilder Debug", &format!("{builder:?}"));
    let e = builder.build().unwrap_err();
    assert_clean("builder error", &e.to_string());
    assert_clean("builder error Debug", &format!("{e:?}"));
}

#[test]
fn integrations_serialize_references_not_secrets() {
    let integration = pathops_testkit_free_integration();
    let json = serde_json::to_string(&integration).unwrap();
    assert!(json.contains("ref://acme/gitlab/token"));
    assert_clean("Integration JSON", &json);
    assert_clean("Integration Debug", &format!("{integration:?}"));
}

/// An integration built without the testkit (the testkit depends on this crate).
fn pathops_testkit_free_integration() -> pathops_core::Integration {
    let input = NewIntegration::builder("GitLab", Provider::GitLab, "https://gitlab.example.com")
        .with_auth_ref("ref://acme/gitlab/token")
        .build()
        .unwrap();
    pathops_core::Integration::new_draft(
        IntegrationId::new(),
        "acme".parse().unwrap(),
        input,
        "alice".parse().unwrap(),
        time::OffsetDateTime::UNIX_EPOCH,
    )
}
