//! The fake CircleCI on the wire: `/me` for personal tokens only (a project token gets the
//! same 401 as a bad one), project lookup, Basic with the token as user name, the rate-limit
//! switch and seeds.

use base64::Engine as _;
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::circleci::{CircleCiSeed, FakeCircleCi};
use serde_json::{Value, json};

async fn get(url: String, token: Option<&str>) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(t) = token {
        request = request.header("Circle-Token", t);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn me_answers_personal_tokens_only() {
    let f = FakeCircleCi::start_with_defaults().await;
    let me = || format!("{}/api/v2/me", f.url());
    let (status, v, _) = get(me(), Some(FakeCircleCi::PERSONAL_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"id": "5d8c1a0e-4b7f-4f0e-9a53-1c2b3d4e5f60", "login": "pathops-bot", "name": "PathOps Bot"})
    );
    let refused = json!({"message": "You must log in first."});
    for token in [
        None,
        Some(FakeCircleCi::REVOKED_TOKEN),
        Some(FakeCircleCi::PROJECT_TOKEN),
    ] {
        let (status, v, _) = get(me(), token).await;
        assert_eq!((status, v), (401, refused.clone()), "{token:?}");
    }
    // HTTP Basic with the token as user name and no password works as well.
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:", FakeCircleCi::PERSONAL_TOKEN));
    let r = reqwest::Client::new()
        .get(me())
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    f.revoke_token(FakeCircleCi::PERSONAL_TOKEN);
    assert_eq!(get(me(), Some(FakeCircleCi::PERSONAL_TOKEN)).await.0, 401);
}

#[tokio::test]
async fn projects_are_visible_to_their_users_only() {
    let f = FakeCircleCi::start_with_defaults().await;
    let project = |slug: &str| format!("{}/api/v2/project/{slug}", f.url());
    let (status, v, _) = get(project("gh/acme/api"), Some(FakeCircleCi::PERSONAL_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(v["slug"], "gh/acme/api");
    assert_eq!(v["organization_name"], "acme");
    assert_eq!(v["vcs_info"]["vcs_url"], "https://github.com/acme/api");
    let not_found = json!({"message": "Project not found"});
    for (slug, token) in [
        ("gh/acme/secret", Some(FakeCircleCi::PERSONAL_TOKEN)),
        ("gh/acme/missing", Some(FakeCircleCi::PERSONAL_TOKEN)),
        ("gh/acme/api", Some(FakeCircleCi::PROJECT_TOKEN)),
        ("gh/acme/api", None),
    ] {
        let (status, v, _) = get(project(slug), token).await;
        assert_eq!((status, v), (404, not_found.clone()), "{slug} {token:?}");
    }
}

#[tokio::test]
async fn the_rate_limit_switch_and_faults() {
    let f = FakeCircleCi::start_with_defaults().await;
    f.set_rate_limited(Some(42));
    let (status, v, headers) = get(
        format!("{}/api/v2/me", f.url()),
        Some(FakeCircleCi::PERSONAL_TOKEN),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(v["message"], "Rate limit exceeded");
    assert_eq!(headers["retry-after"], "42");
    f.set_rate_limited(None);
    f.inject(Fault::on("/api/v2/me").status(502).times(1));
    let url = format!("{}/api/v2/me", f.url());
    assert_eq!(
        get(url.clone(), Some(FakeCircleCi::PERSONAL_TOKEN)).await.0,
        502
    );
    assert_eq!(get(url, Some(FakeCircleCi::PERSONAL_TOKEN)).await.0, 200);
}

#[tokio::test]
async fn seed_files() {
    let seed: CircleCiSeed = serde_json::from_value(json!({
        "users": [{"id": "u1", "login": "bot", "tokens": ["p1"]}],
        "projects": [{"slug": "bb/ws/repo", "id": "p", "visible_to": ["bot"]}],
        "rate_limited_for": 5
    }))
    .unwrap();
    let f = FakeCircleCi::start_with(seed).await;
    let (status, _, headers) = get(format!("{}/api/v2/me", f.url()), Some("p1")).await;
    assert_eq!(
        (status, &headers["retry-after"]),
        (429, &"5".parse::<reqwest::header::HeaderValue>().unwrap())
    );
    f.set_rate_limited(None);
    let (_, v, _) = get(format!("{}/api/v2/project/bb/ws/repo", f.url()), Some("p1")).await;
    assert_eq!(v["vcs_info"]["provider"], "Bitbucket");
    assert!(serde_json::from_value::<CircleCiSeed>(json!({"tokens": []})).is_err());
}
