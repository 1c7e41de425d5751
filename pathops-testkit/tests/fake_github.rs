//! The fake GitHub's App surface against GitHub's documented behaviour, driven with plain HTTP.

use pathops_testkit::fake::github::FakeGitHub;
use serde_json::Value;

/// A JWT for the default App, as a GitHub App signs it.
fn app_jwt() -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({"iat": now - 30, "exp": now + 300, "iss": FakeGitHub::APP_ID});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(FakeGitHub::TEST_APP_PRIVATE_KEY_PEM.as_bytes())
            .expect("the test key"),
    )
    .expect("a JWT")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("pathops-fake-github-test")
        .build()
        .expect("client")
}

fn remaining(r: &reqwest::Response) -> u64 {
    r.headers()["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Installations are found by id and by repository with the App's JWT; their
/// `access_tokens_url` is absolute and can be posted to as given; JWT calls and
/// installation-token calls draw on separate rate-limit budgets.
#[tokio::test]
async fn installations_by_id_and_repository_with_absolute_token_urls_and_separate_budgets() {
    for gh in [
        FakeGitHub::start().await,
        FakeGitHub::start_enterprise().await,
    ] {
        let http = client();
        let jwt = app_jwt();
        let get = |path: String| {
            http.get(format!("{}{path}", gh.api_url()))
                .bearer_auth(&jwt)
        };

        let list: Value = get("/app/installations".into())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = list[0]["access_tokens_url"].as_str().unwrap().to_owned();
        assert_eq!(
            url,
            format!(
                "{}/app/installations/{}/access_tokens",
                gh.api_url(),
                FakeGitHub::INSTALLATION_ID
            )
        );
        let token = http.post(&url).bearer_auth(&jwt).send().await.unwrap();
        assert_eq!(token.status(), 201, "the URL works as given");
        let token: Value = token.json().await.unwrap();

        let one = get(format!(
            "/app/installations/{}",
            FakeGitHub::INSTALLATION_ID
        ))
        .send()
        .await
        .unwrap();
        assert_eq!(one.status(), 200);
        let one: Value = one.json().await.unwrap();
        assert_eq!(one["id"], FakeGitHub::INSTALLATION_ID);
        assert_eq!(one["access_tokens_url"], url.as_str());
        let missing = get("/app/installations/999".into()).send().await.unwrap();
        assert_eq!(missing.status(), 404);

        let by_repo = get(format!("/repos/{}/installation", FakeGitHub::REPOSITORY))
            .send()
            .await
            .unwrap();
        assert_eq!(by_repo.status(), 200);
        let by_repo: Value = by_repo.json().await.unwrap();
        assert_eq!(by_repo["id"], FakeGitHub::INSTALLATION_ID);
        let elsewhere = get("/repos/acme/not-installed/installation".into())
            .send()
            .await
            .unwrap();
        assert_eq!(elsewhere.status(), 404);
        let unsigned = http
            .get(format!(
                "{}/repos/{}/installation",
                gh.api_url(),
                FakeGitHub::REPOSITORY
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 401, "a JWT is required");

        // Separate budgets: an exhausted installation budget leaves JWT calls alone.
        gh.set_rate_limit(0, 1_795_435_200);
        let app_call = get("/app".into()).send().await.unwrap();
        assert_eq!(app_call.status(), 200);
        assert!(remaining(&app_call) > 4_000, "the App's own budget");
        let ping = http
            .post(format!(
                "{}/repos/{}/hooks/1/pings",
                gh.api_url(),
                FakeGitHub::REPOSITORY
            ))
            .bearer_auth(token["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(ping.status(), 403, "the installation's budget is spent");
        assert_eq!(remaining(&ping), 0);
    }
}

/// An installation token minted for `installation` (the default App's JWT).
async fn installation_token(gh: &FakeGitHub, installation: u64) -> String {
    let token: Value = client()
        .post(format!(
            "{}/app/installations/{installation}/access_tokens",
            gh.api_url()
        ))
        .bearer_auth(app_jwt())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["token"].as_str().unwrap().to_owned()
}

/// `GET /repos/:owner/:repo/actions/runs`: the installation token's repositories and Actions
/// permission decide 200, 404 and 403 (the permission as minted); pages follow `Link`.
#[tokio::test]
async fn workflow_runs_need_the_repository_and_the_actions_permission_and_paginate() {
    use pathops_testkit::fake::github::GitHubWorkflowRun;
    for gh in [
        FakeGitHub::start().await,
        FakeGitHub::start_enterprise().await,
    ] {
        let http = client();
        let runs = |repo: &str| format!("{}/repos/{repo}/actions/runs", gh.api_url());
        let token = installation_token(&gh, FakeGitHub::INSTALLATION_ID).await;

        let r = http
            .get(format!("{}?per_page=1", runs(FakeGitHub::REPOSITORY)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["total_count"], 2);
        assert_eq!(body["workflow_runs"].as_array().unwrap().len(), 1);
        assert_eq!(body["workflow_runs"][0]["id"], FakeGitHub::LATEST_RUN_ID);
        assert_eq!(body["workflow_runs"][0]["conclusion"], "success");
        let next = link
            .split(", ")
            .find_map(|p| p.strip_suffix("; rel=\"next\""))
            .unwrap()
            .trim_matches(['<', '>'])
            .to_owned();
        assert!(next.starts_with(&gh.api_url()), "{next}");
        assert!(link.contains("rel=\"last\""), "{link}");
        let second: Value = http
            .get(&next)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(second["workflow_runs"][0]["id"], FakeGitHub::FIRST_RUN_ID);
        assert_eq!(second["workflow_runs"][0]["conclusion"], "failure");

        // Another repository is invisible to the installation; a bad token is 401.
        let other = http
            .get(runs("acme/elsewhere"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
        let bad = http
            .get(runs(FakeGitHub::REPOSITORY))
            .bearer_auth("ghs_unknown")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);

        // Withdrawn Actions permission: tokens minted before keep it, new ones get 403.
        gh.set_installation_permission(FakeGitHub::INSTALLATION_ID, "actions", None);
        let kept = http
            .get(runs(FakeGitHub::REPOSITORY))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(kept.status(), 200);
        let fresh = installation_token(&gh, FakeGitHub::INSTALLATION_ID).await;
        let refused = http
            .get(runs(FakeGitHub::REPOSITORY))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        assert_eq!(
            refused.headers()["x-accepted-github-permissions"],
            "actions=read"
        );
        assert!(
            refused.headers().contains_key("x-ratelimit-remaining"),
            "403 for a permission carries the rate-limit headers but remaining is not 0"
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["message"], "Resource not accessible by integration");

        gh.add_workflow_run(GitHubWorkflowRun::new(1, FakeGitHub::REPOSITORY));
        gh.set_installation_permission(FakeGitHub::INSTALLATION_ID, "actions", Some("write"));
        let fresh = installation_token(&gh, FakeGitHub::INSTALLATION_ID).await;
        let body: Value = http
            .get(runs(FakeGitHub::REPOSITORY))
            .bearer_auth(&fresh)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["total_count"], 3);
    }
}
