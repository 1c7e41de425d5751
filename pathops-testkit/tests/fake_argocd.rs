//! The fake Argo CD on the wire: healthz, the short and full version, userinfo's constant 200,
//! RBAC per token on applications and projects with grpc-gateway's error bodies, and seeds.

use pathops_testkit::fake::argocd::{ArgoCdSeed, FakeArgoCd};
use serde_json::{Value, json};

async fn get(url: String, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn healthz_version_and_userinfo() {
    let a = FakeArgoCd::start_with_defaults().await;
    let r = reqwest::get(format!("{}/healthz", a.url())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");

    for token in [None, Some(FakeArgoCd::REVOKED_TOKEN)] {
        let (status, v) = get(format!("{}/api/version", a.url()), token).await;
        assert_eq!(status, 200);
        assert_eq!(
            v,
            json!({"Version": FakeArgoCd::DEFAULT_VERSION}),
            "{token:?}"
        );
        let (status, v) = get(format!("{}/api/v1/session/userinfo", a.url()), token).await;
        assert_eq!((status, v), (200, json!({"loggedIn": false})), "{token:?}");
    }
    let (_, v) = get(format!("{}/api/version", a.url()), Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(v["Version"], FakeArgoCd::DEFAULT_VERSION);
    assert!(
        v["GoVersion"].is_string() && v["BuildDate"].is_string(),
        "{v}"
    );
    let (status, v) = get(
        format!("{}/api/v1/session/userinfo", a.url()),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"loggedIn": true, "username": "pathops", "iss": "argocd", "groups": ["platform-team"]})
    );
    // The UI's cookie works as well as the header.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/session/userinfo", a.url()))
        .header(
            "cookie",
            format!("other=1; argocd.token={}", FakeArgoCd::TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["loggedIn"], true);

    a.set_auth_disabled(true);
    let (_, v) = get(format!("{}/api/version", a.url()), None).await;
    assert!(v["GoVersion"].is_string(), "full for everyone: {v}");
}

#[tokio::test]
async fn rbac_calls_refuse_bad_tokens_with_401_and_denials_with_403() {
    let a = FakeArgoCd::start_with_defaults().await;
    let apps = || format!("{}/api/v1/applications?fields=items.metadata.name", a.url());
    let (status, v) = get(apps(), None).await;
    assert_eq!((status, v["code"].as_u64()), (401, Some(16)));
    assert_eq!(v["message"], "no session information");
    let (status, v) = get(apps(), Some(FakeArgoCd::REVOKED_TOKEN)).await;
    assert_eq!(status, 401);
    assert!(v["error"].as_str().unwrap().starts_with("invalid session"));
    let (status, v) = get(apps(), Some(FakeArgoCd::DENIED_TOKEN)).await;
    assert_eq!((status, v["code"].as_u64()), (403, Some(7)));
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("permission denied: applications, get, */*, sub: auditor"),
        "{v}"
    );
    let (status, v) = get(apps(), Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        v["items"],
        json!([{"metadata": {"name": "guestbook"}}, {"metadata": {"name": "podinfo"}}])
    );
    let (_, full) = get(
        format!("{}/api/v1/applications", a.url()),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert_eq!(full["items"][1]["spec"]["project"], "platform");

    a.set_grants(FakeArgoCd::ACCOUNT, &["applications, get, default/*"]);
    let (_, v) = get(apps(), Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(v["items"], json!([{"metadata": {"name": "guestbook"}}]));
    a.set_grants(FakeArgoCd::ACCOUNT, &["applications, *, nothing/*"]);
    let (status, v) = get(apps(), Some(FakeArgoCd::TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        v["items"],
        Value::Null,
        "Argo CD writes an empty list as null"
    );

    let project = |p: &str| format!("{}/api/v1/projects/{p}", a.url());
    let (status, v) = get(project("platform"), Some(FakeArgoCd::DENIED_TOKEN)).await;
    assert_eq!(status, 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("projects, get, platform")
    );
    a.set_grants(FakeArgoCd::ACCOUNT, &["projects, get, platform"]);
    assert_eq!(
        get(project("platform"), Some(FakeArgoCd::TOKEN)).await.0,
        200
    );
    assert_eq!(
        get(project("default"), Some(FakeArgoCd::TOKEN)).await.0,
        403
    );
    a.set_grants(FakeArgoCd::ACCOUNT, &["projects, get, *"]);
    let (status, v) = get(project("ghost"), Some(FakeArgoCd::TOKEN)).await;
    assert_eq!((status, v["code"].as_u64()), (404, Some(5)));
    assert_eq!(get(project("ghost"), None).await.0, 401);
}

#[tokio::test]
async fn revoked_tokens_disabled_accounts_and_seed_files() {
    let a = FakeArgoCd::start_with_defaults().await;
    a.revoke_token(FakeArgoCd::TOKEN);
    let (_, v) = get(
        format!("{}/api/v1/session/userinfo", a.url()),
        Some(FakeArgoCd::TOKEN),
    )
    .await;
    assert_eq!(v, json!({"loggedIn": false}));

    let seed: ArgoCdSeed = serde_json::from_value(json!({
        "version": "v2.9.0+1",
        "issuer": "https://dex.example",
        "accounts": [{"name": "ci", "tokens": ["t"], "allow": ["applications, get, */*"], "disabled": true}],
        "applications": [{"name": "a"}]
    }))
    .unwrap();
    assert_eq!(seed.applications[0].project, "default");
    let a = FakeArgoCd::start_with(seed).await;
    let (_, v) = get(format!("{}/api/v1/session/userinfo", a.url()), Some("t")).await;
    assert_eq!(v["loggedIn"], false, "a disabled account");
    let (_, v) = get(format!("{}/api/version", a.url()), None).await;
    assert_eq!(v["Version"], "v2.9.0+1");
    assert!(serde_json::from_value::<ArgoCdSeed>(json!({"rbac": []})).is_err());
    let (status, v) = get(format!("{}/api/v1/clusters", a.url()), None).await;
    assert_eq!(status, 404);
    assert!(
        v["fake"]
            .as_str()
            .unwrap()
            .contains("does not emulate GET /api/v1/clusters")
    );
}
