//! The standalone `pathops-fake` binary: seeded from a JSON file, it prints its URL and serves.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> (Killed, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pathops-fake"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Killed(child), serde_json::from_str(&line).unwrap())
}

#[tokio::test]
async fn gitlab_from_a_seed_file() {
    let dir = std::env::temp_dir().join(format!("pathops-fake-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("gitlab.json");
    std::fs::write(
        &seed,
        serde_json::json!({
            "version": "16.11.0",
            "users": [{"id": 9, "username": "ci-bot"}],
            "tokens": [{"token": "glpat-seeded", "user_id": 9, "scopes": ["api"]}],
            "projects": [{"id": 5, "path_with_namespace": "g/p", "members": [{"user_id": 9, "access_level": 40}]}]
        })
        .to_string(),
    )
    .unwrap();
    let (_child, info) = spawn(&[
        "gitlab",
        "--listen",
        "127.0.0.1:0",
        "--seed",
        seed.to_str().unwrap(),
    ]);
    assert_eq!(info["provider"], "gitlab");
    let api = info["api_url"].as_str().unwrap();
    let http = reqwest::Client::new();
    let user: serde_json::Value = http
        .get(format!("{api}/user"))
        .header("PRIVATE-TOKEN", "glpat-seeded")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["username"], "ci-bot");
    let v: serde_json::Value = http
        .get(format!("{api}/version"))
        .header("PRIVATE-TOKEN", "glpat-seeded")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], "16.11.0");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn defaults_for_every_provider_and_usage_errors() {
    for (provider, path) in [
        ("harbor", "/ping"),
        ("vault", "/sys/health"),
        ("github", "/rate_limit"),
        ("gitea", "/version"),
    ] {
        let (_child, info) =
            spawn(&[provider, "--enterprise"][..if provider == "github" { 2 } else { 1 }]);
        let r = reqwest::Client::new()
            .get(format!("{}{path}", info["api_url"].as_str().unwrap()))
            .header("user-agent", "test")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{provider}");
        if provider == "github" {
            assert!(info["api_url"].as_str().unwrap().ends_with("/api/v3"));
        }
    }
    let status = Command::new(env!("CARGO_BIN_EXE_pathops-fake"))
        .arg("bogus")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

#[tokio::test]
async fn jenkins_argocd_and_circleci_start_with_their_documented_defaults() {
    use pathops_testkit::fake::argocd::FakeArgoCd;
    use pathops_testkit::fake::circleci::FakeCircleCi;
    use pathops_testkit::fake::jenkins::FakeJenkins;

    let http = reqwest::Client::new();
    let (_jenkins, info) = spawn(&["jenkins"]);
    let who: serde_json::Value = http
        .get(format!(
            "{}/whoAmI/api/json",
            info["api_url"].as_str().unwrap()
        ))
        .basic_auth(FakeJenkins::USER, Some(FakeJenkins::API_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["name"], FakeJenkins::USER);
    let (_argocd, info) = spawn(&["argocd"]);
    let me: serde_json::Value = http
        .get(format!(
            "{}/session/userinfo",
            info["api_url"].as_str().unwrap()
        ))
        .bearer_auth(FakeArgoCd::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["loggedIn"], true);
    let (_circleci, info) = spawn(&["circleci"]);
    let me: serde_json::Value = http
        .get(format!("{}/me", info["api_url"].as_str().unwrap()))
        .header("Circle-Token", FakeCircleCi::PERSONAL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], FakeCircleCi::LOGIN);

    // A Jenkins seed with a context path: `api_url` includes it.
    let dir = std::env::temp_dir().join(format!("pathops-fake-jenkins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("jenkins.json");
    std::fs::write(
        &seed,
        r#"{"context_path": "/jenkins", "csrf_disabled": true, "users": [{"id": "ci", "api_tokens": ["t"]}]}"#,
    )
    .unwrap();
    let (_child, info) = spawn(&["jenkins", "--seed", seed.to_str().unwrap()]);
    let api = info["api_url"].as_str().unwrap();
    assert!(api.ends_with("/jenkins"), "{api}");
    let r = http
        .get(format!("{api}/crumbIssuer/api/json"))
        .basic_auth("ci", Some("t"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "CSRF protection off");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_bitbucket_and_azure_devops_fakes_start_with_their_documented_defaults() {
    use pathops_testkit::fake::azure_devops::FakeAzureDevOps;
    use pathops_testkit::fake::bitbucket_cloud::FakeBitbucketCloud;
    use pathops_testkit::fake::bitbucket_dc::FakeBitbucketDc;

    let http = reqwest::Client::new();
    let (_dc, info) = spawn(&["bitbucket-dc"]);
    let api = info["api_url"].as_str().unwrap();
    assert!(api.ends_with("/rest/api/1.0"), "{api}");
    let repo = http
        .get(format!("{api}/projects/ACME/repos/platform"))
        .bearer_auth(FakeBitbucketDc::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(repo.status(), 200);
    assert_eq!(repo.headers()["x-ausername"], FakeBitbucketDc::ADMIN);
    let (_cloud, info) = spawn(&["bitbucket-cloud"]);
    let api = info["api_url"].as_str().unwrap();
    assert!(api.ends_with("/2.0"), "{api}");
    let user = http
        .get(format!("{api}/user"))
        .basic_auth(
            FakeBitbucketCloud::EMAIL,
            Some(FakeBitbucketCloud::API_TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
    let (_azdo, info) = spawn(&["azure-devops"]);
    let org = info["api_url"].as_str().unwrap();
    assert!(org.ends_with("/acme"), "{org}");
    let bad = http
        .get(format!("{org}/_apis/connectionData"))
        .basic_auth("", Some("not-a-pat"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 203, "a bad PAT gets the sign-in page");
    let good = http
        .get(format!("{org}/_apis/connectionData"))
        .basic_auth("", Some(FakeAzureDevOps::PAT))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
}
