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
