//! The fake Gitea answers as Gitea's API router does: scopes before lookups, hidden private
//! repositories, the Actions unit's reader check and its administrator bypass, pagination.

use pathops_testkit::fake::gitea::{FakeGitea, GiteaRepo, GiteaToken, GiteaUser, ScopeMessage};
use serde_json::Value;

const O: &str = FakeGitea::OWNER;
const R: &str = FakeGitea::REPO;

async fn get(
    g: &FakeGitea,
    path: &str,
    token: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new().get(format!("{}{path}", g.api_url()));
    if let Some(t) = token {
        req = req.header("authorization", format!("token {t}"));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test]
async fn tokens_and_scopes_are_refused_in_giteas_words() {
    let g = FakeGitea::start_with_defaults().await;
    let (status, v, _) = get(&g, "/version", None).await;
    assert_eq!(
        (status, v["version"].as_str()),
        (200, Some(FakeGitea::DEFAULT_VERSION))
    );
    let (status, user, _) = get(&g, "/user", Some(FakeGitea::TOKEN)).await;
    assert_eq!(
        (status, user["login"].as_str()),
        (200, Some(FakeGitea::LOGIN))
    );
    let (status, body, _) = get(&g, "/user", None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("token is required"))
    );
    let (status, body, _) = get(&g, "/version", Some("wrong-token")).await;
    assert_eq!(status, 401, "an unknown token is refused on every route");
    assert_eq!(
        body["message"],
        "access token does not exist [sha: wrong-token]"
    );

    let (status, body, _) = get(&g, "/user", Some(FakeGitea::REPO_TOKEN)).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "token does not have at least one of required scope(s): [read:user]"
    );
    // The scope is checked before the repository is looked up.
    let (status, body, _) = get(&g, "/repos/nobody/nothing", Some(FakeGitea::USER_TOKEN)).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "token does not have at least one of required scope(s): [read:repository]"
    );
    g.set_scope_message(ScopeMessage::Detailed);
    let (_, body, _) = get(&g, &format!("/repos/{O}/{R}"), Some(FakeGitea::USER_TOKEN)).await;
    assert_eq!(
        body["message"],
        "token does not have at least one of required scope(s), required=[read:repository], token scope=read:user"
    );
    g.add_token(GiteaToken::new(
        FakeGitea::USER_ID,
        "writer",
        &["write:repository"],
    ));
    g.add_token(GiteaToken::new(FakeGitea::USER_ID, "everything", &["all"]));
    for t in ["writer", "everything"] {
        assert_eq!(
            get(&g, &format!("/repos/{O}/{R}"), Some(t)).await.0,
            200,
            "{t}"
        );
    }
}

#[tokio::test]
async fn private_repositories_are_hidden_and_report_their_actions_unit() {
    let g = FakeGitea::start_with_defaults().await;
    let (status, repo, _) = get(&g, &format!("/repos/{O}/{R}"), Some(FakeGitea::REPO_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(repo["full_name"], format!("{O}/{R}"));
    assert_eq!(repo["has_actions"], true);
    assert_eq!(repo["permissions"]["admin"], false);
    assert_eq!(get(&g, &format!("/repos/{O}/{R}"), None).await.0, 404);
    g.add_user(GiteaUser::new(3, "outsider"));
    g.add_token(GiteaToken::new(3, "outsider-token", &["read:repository"]));
    assert_eq!(
        get(&g, &format!("/repos/{O}/{R}"), Some("outsider-token"))
            .await
            .0,
        404
    );
    g.set_repo_actions(O, R, false);
    let (_, repo, _) = get(&g, &format!("/repos/{O}/{R}"), Some(FakeGitea::TOKEN)).await;
    assert_eq!(repo["has_actions"], false);
    g.set_repo_actions(O, R, true);
    g.set_actions_enabled(false);
    let (_, repo, _) = get(&g, &format!("/repos/{O}/{R}"), Some(FakeGitea::TOKEN)).await;
    assert_eq!(
        repo["has_actions"], false,
        "[actions] ENABLED = false disables the unit"
    );
}

#[tokio::test]
async fn actions_tasks_page_and_refuse_readers_of_a_disabled_unit_but_not_admins() {
    let g = FakeGitea::start_with_defaults().await;
    let tasks = format!("/repos/{O}/{R}/actions/tasks");
    let (status, body, headers) =
        get(&g, &format!("{tasks}?limit=1"), Some(FakeGitea::REPO_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["total_count"], 2);
    assert_eq!(body["workflow_runs"][0]["id"], FakeGitea::LATEST_TASK_ID);
    assert_eq!(headers["x-total-count"], "2");
    let link = headers["link"].to_str().unwrap();
    assert!(link.contains("limit=1&page=2>; rel=\"next\""), "{link}");
    let (_, second, _) = get(
        &g,
        &format!("{tasks}?limit=1&page=2"),
        Some(FakeGitea::REPO_TOKEN),
    )
    .await;
    assert_eq!(second["workflow_runs"][0]["status"], "failure");
    let (_, runs, _) = get(
        &g,
        &format!("/repos/{O}/{R}/actions/runs?limit=1"),
        Some(FakeGitea::REPO_TOKEN),
    )
    .await;
    assert_eq!(runs["workflow_runs"][0]["conclusion"], "success");

    const REFUSAL: &str =
        "user should have specific read permission or be a repo admin or a site admin";
    g.set_repo_actions(O, R, false);
    let (status, body, _) = get(&g, &tasks, Some(FakeGitea::REPO_TOKEN)).await;
    assert_eq!((status, body["message"].as_str()), (403, Some(REFUSAL)));
    g.add_user(GiteaUser::new(4, "root").admin());
    g.add_token(GiteaToken::new(4, "root-token", &["read:repository"]));
    let (status, body, _) = get(&g, &tasks, Some("root-token")).await;
    assert_eq!(
        status, 200,
        "site administrators pass reqRepoReader even with the unit off"
    );
    assert_eq!(body["total_count"], 2);
    g.set_repo_actions(O, R, true);
    g.set_collaborator_actions(O, R, FakeGitea::USER_ID, false);
    let (status, body, _) = get(&g, &tasks, Some(FakeGitea::REPO_TOKEN)).await;
    assert_eq!((status, body["message"].as_str()), (403, Some(REFUSAL)));

    g.add_repo(GiteaRepo::new(200, "pathops-bot", "empty"));
    let (status, body, headers) = get(
        &g,
        "/repos/pathops-bot/empty/actions/tasks",
        Some(FakeGitea::REPO_TOKEN),
    )
    .await;
    assert_eq!(
        (status, body["total_count"].as_u64()),
        (200, Some(0)),
        "the owner reads its own"
    );
    assert!(!headers.contains_key("link"));
}

#[tokio::test]
async fn older_versions_have_no_actions_routes() {
    let g = FakeGitea::start_with_defaults().await;
    g.set_version("1.21.11");
    let (status, body, _) = get(
        &g,
        &format!("/repos/{O}/{R}/actions/tasks"),
        Some(FakeGitea::TOKEN),
    )
    .await;
    assert_eq!(status, 404);
    assert!(body["fake"].as_str().unwrap().contains("actions/tasks"));
    g.set_version("11.0.3+gitea-1.22.0");
    assert_eq!(
        get(
            &g,
            &format!("/repos/{O}/{R}/actions/tasks"),
            Some(FakeGitea::TOKEN)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        get(
            &g,
            &format!("/repos/{O}/{R}/actions/runs"),
            Some(FakeGitea::TOKEN)
        )
        .await
        .0,
        404
    );
}
