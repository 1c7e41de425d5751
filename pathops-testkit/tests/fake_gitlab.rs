//! The fake GitLab behaves as GitLab's REST API documents it.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use pathops_testkit::fake::gitlab::{
    FakeGitLab, GitLabHook, GitLabProject, GitLabToken, GitLabUser,
};
use pathops_testkit::fake::{FakeServer, refused_port};
use serde_json::{Value, json};

const P: u64 = FakeGitLab::PROJECT_ID;

async fn receiver(status: StatusCode, body: &'static str) -> FakeServer {
    let router = Router::new().route("/hook", post(move || async move { (status, body) }));
    FakeServer::bind("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap()
}

struct Api<'a> {
    gl: &'a FakeGitLab,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v4{path}", self.gl.url()));
        if let Some(t) = token {
            req = req.header("PRIVATE-TOKEN", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }
    async fn post(&self, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, body).await
    }
}

fn api(gl: &FakeGitLab) -> Api<'_> {
    Api {
        gl,
        http: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn authentication_scopes_and_identity() {
    let gl = FakeGitLab::start_with_defaults().await;
    let a = api(&gl);
    assert_eq!(
        a.get("/user", None).await,
        (401, json!({"message": "401 Unauthorized"}))
    );
    assert_eq!(a.get("/user", Some("glpat-wrong")).await.0, 401);
    let (s, user) = a.get("/user", Some(FakeGitLab::API_TOKEN)).await;
    assert_eq!((s, user["username"].as_str()), (200, Some("pathops-bot")));
    let bearer = a
        .http
        .get(format!("{}/api/v4/version", gl.url()))
        .bearer_auth(FakeGitLab::READ_API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    assert!(bearer.headers().contains_key("ratelimit-remaining"));
    let v: Value = bearer.json().await.unwrap();
    assert_eq!(v["version"], FakeGitLab::DEFAULT_VERSION);

    let (s, me) = a
        .get(
            "/personal_access_tokens/self",
            Some(FakeGitLab::READ_API_TOKEN),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(me["scopes"], json!(["read_api"]));
    assert_eq!(me["active"], json!(true));

    gl.add_token(
        GitLabToken::new(FakeGitLab::USER_ID, "glpat-old", &["api"]).expires_at("2020-01-01"),
    );
    gl.add_token(GitLabToken::new(FakeGitLab::USER_ID, "glpat-revoked", &["api"]).revoked());
    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        "glpat-user",
        &["read_user"],
    ));
    // GitLab's API guard: an unknown token is `401 Unauthorized`; a known one it will not
    // accept any more is an OAuth `invalid_token` naming why.
    let (s, body) = a.get("/user", Some("glpat-nobody-knows")).await;
    assert_eq!((s, body), (401, json!({"message": "401 Unauthorized"})));
    let (s, body) = a.get("/user", Some("glpat-old")).await;
    assert_eq!(s, 401);
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(
        body["error_description"],
        "Token is expired. You can either do re-authorization or token refresh."
    );
    let (s, body) = a.get("/user", Some("glpat-revoked")).await;
    assert_eq!(s, 401);
    assert_eq!(
        body["error_description"],
        "Token was revoked. You have to re-authorize from the user."
    );
    assert_eq!(a.get("/user", Some("glpat-user")).await.0, 200);
    let (s, body) = a.get(&format!("/projects/{P}"), Some("glpat-user")).await;
    assert_eq!(s, 403);
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "api read_api");
}

#[tokio::test]
async fn projects_by_id_or_encoded_path_and_visibility() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_project(GitLabProject::new(7, "other/secret"));
    let a = api(&gl);
    let t = Some(FakeGitLab::API_TOKEN);
    let (s, p) = a.get(&format!("/projects/{P}"), t).await;
    assert_eq!(s, 200);
    assert_eq!(p["permissions"]["project_access"]["access_level"], 40);
    let (s, p) = a.get("/projects/platform%2Fapi", t).await;
    assert_eq!((s, p["id"].as_u64()), (200, Some(P)));
    assert_eq!(
        a.get("/projects/platform/api", t).await.0,
        404,
        "an unencoded path does not match"
    );
    assert_eq!(
        a.get("/projects/7", t).await,
        (404, json!({"message": "404 Project Not Found"}))
    );
    let (s, body) = a.get("/nothing/here", t).await;
    assert_eq!(s, 404);
    assert!(
        body["fake"]
            .as_str()
            .unwrap()
            .contains("GET /api/v4/nothing/here")
    );
}

#[tokio::test]
async fn hooks_crud_keeps_the_token_write_only() {
    let gl = FakeGitLab::start_with_defaults().await;
    let a = api(&gl);
    let t = Some(FakeGitLab::API_TOKEN);
    let base = format!("/projects/{P}/hooks");
    let (s, created) = a
        .post(&base, t, Some(json!({"url": "http://127.0.0.1:1/hook", "token": "s3cret", "tag_push_events": true})))
        .await;
    assert_eq!(s, 201);
    assert!(created.get("token").is_none());
    assert_eq!(created["token_present"], true);
    assert_eq!(created["push_events"], true);
    assert_eq!(created["tag_push_events"], true);
    assert_eq!(created["alert_status"], "executable");
    let id = created["id"].as_u64().unwrap();
    assert_eq!(gl.hook(id).unwrap().token.as_deref(), Some("s3cret"));

    let (s, bad) = a.post(&base, t, Some(json!({"url": "not a url"}))).await;
    assert_eq!((s, bad), (422, json!({"message": "Invalid url given"})));
    let (s, _) = a
        .post(
            &base,
            Some(FakeGitLab::READ_API_TOKEN),
            Some(json!({"url": "http://x.test"})),
        )
        .await;
    assert_eq!(s, 403);

    let (s, list) = a.get(&base, t).await;
    assert_eq!((s, list.as_array().unwrap().len()), (200, 1));
    let (s, edited) = a
        .call(
            reqwest::Method::PUT,
            &format!("{base}/{id}"),
            t,
            Some(json!({"url": "http://127.0.0.1:2/new"})),
        )
        .await;
    assert_eq!(
        (s, edited["url"].as_str()),
        (200, Some("http://127.0.0.1:2/new"))
    );
    assert_eq!(
        gl.hook(id).unwrap().token,
        None,
        "a URL change resets the token"
    );
    let (s, _) = a
        .call(
            reqwest::Method::PUT,
            &format!("{base}/{id}"),
            t,
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        a.call(reqwest::Method::DELETE, &format!("{base}/{id}"), t, None)
            .await
            .0,
        204
    );
    assert_eq!(
        a.get(&format!("{base}/{id}"), t).await,
        (404, json!({"message": "404 Hook Not Found"}))
    );

    gl.add_user(GitLabUser::new(2, "dev"));
    gl.add_token(GitLabToken::new(2, "glpat-dev", &["api"]));
    gl.add_project(GitLabProject::new(8, "team/app").member(2, 30));
    assert_eq!(
        a.get("/projects/8/hooks", Some("glpat-dev")).await.0,
        403,
        "a Developer cannot manage hooks"
    );
}

#[tokio::test]
async fn the_test_trigger_delivers_synchronously_and_relays_the_outcome() {
    let gl = FakeGitLab::start_with_defaults().await;
    let ok = receiver(StatusCode::OK, "thanks").await;
    let failing = receiver(StatusCode::INTERNAL_SERVER_ERROR, "receiver exploded").await;
    let good = gl.add_hook(
        GitLabHook::new(P, &format!("{}/hook", ok.url()))
            .token("hook-secret")
            .alert_status("temporarily_disabled", Some("2030-01-01T00:00:00Z")),
    );
    let bad = gl.add_hook(GitLabHook::new(P, &format!("{}/hook", failing.url())));
    let gone = gl.add_hook(GitLabHook::new(
        P,
        &format!("http://127.0.0.1:{}/hook", refused_port()),
    ));
    let a = api(&gl);
    let t = Some(FakeGitLab::API_TOKEN);

    let (s, body) = a
        .post(
            &format!("/projects/{P}/hooks/{good}/test/push_events"),
            t,
            None,
        )
        .await;
    assert_eq!((s, body), (201, json!({"message": "201 Created"})));
    let delivered = &ok.requests()[0];
    assert_eq!(delivered.method, "POST");
    assert_eq!(delivered.header("x-gitlab-token"), Some("hook-secret"));
    assert_eq!(delivered.header("x-gitlab-event"), Some("Push Hook"));
    assert_eq!(delivered.header("user-agent"), Some("GitLab/17.5.0"));
    assert_eq!(
        delivered.header("x-gitlab-instance"),
        Some(gl.url().as_str())
    );
    assert_eq!(delivered.header("content-type"), Some("application/json"));
    for h in [
        "x-gitlab-event-uuid",
        "x-gitlab-webhook-uuid",
        "idempotency-key",
    ] {
        assert!(
            uuid::Uuid::parse_str(delivered.header(h).unwrap()).is_ok(),
            "{h}"
        );
    }
    let payload = delivered.json().unwrap();
    assert_eq!(payload["object_kind"], "push");
    assert_eq!(payload["event_name"], "push");
    assert_eq!(payload["project_id"], P);
    assert_eq!(payload["project"]["id"], P);
    assert_eq!(payload["ref"], "refs/heads/main");
    assert_eq!(payload["commits"].as_array().unwrap().len(), 3);
    assert_eq!(payload["user_username"], "pathops-bot");
    assert_eq!(
        gl.hook(good).unwrap().alert_status,
        "executable",
        "a 2xx test re-enables the hook"
    );

    let (s, body) = a
        .post(
            &format!("/projects/{P}/hooks/{bad}/test/push_events"),
            t,
            None,
        )
        .await;
    assert_eq!((s, body), (422, json!({"message": "receiver exploded"})));
    assert!(
        failing.requests()[0].header("x-gitlab-token").is_none(),
        "no token configured, none sent"
    );
    let (s, body) = a
        .post(
            &format!("/projects/{P}/hooks/{gone}/test/push_events"),
            t,
            None,
        )
        .await;
    assert_eq!(s, 422);
    assert!(!body["message"].as_str().unwrap().is_empty());

    let (s, events) = a
        .get(&format!("/projects/{P}/hooks/{good}/events"), t)
        .await;
    assert_eq!(s, 200);
    assert_eq!(events[0]["trigger"], "push_hooks");
    assert_eq!(events[0]["response_status"], "200");
    assert_eq!(events[0]["request_headers"]["X-Gitlab-Token"], "[REDACTED]");
    assert_eq!(gl.hook_events().len(), 3);
}

#[tokio::test]
async fn the_test_trigger_refuses_like_gitlab() {
    let gl = FakeGitLab::start_with_defaults().await;
    let ok = receiver(StatusCode::OK, "").await;
    let hook = gl.add_hook(GitLabHook::new(P, &format!("{}/hook", ok.url())));
    gl.add_project(
        GitLabProject::new(9, "platform/empty")
            .member(FakeGitLab::USER_ID, 50)
            .empty(),
    );
    let empty_hook = gl.add_hook(GitLabHook::new(9, &format!("{}/hook", ok.url())));
    let a = api(&gl);
    let t = Some(FakeGitLab::API_TOKEN);
    let test = |h: u64, trigger: &str| format!("/projects/{P}/hooks/{h}/test/{trigger}");

    assert_eq!(a.post(&test(hook, "push_events"), None, None).await.0, 401);
    assert_eq!(
        a.post(
            &test(hook, "push_events"),
            Some(FakeGitLab::READ_API_TOKEN),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(a.post(&test(hook, "bogus_events"), t, None).await.0, 400);
    assert_eq!(a.post(&test(999, "push_events"), t, None).await.0, 404);
    assert_eq!(
        a.post(&test(hook, "note_events"), t, None).await,
        (422, json!({"message": "Ensure the project has notes."}))
    );
    assert_eq!(
        a.post(
            &format!("/projects/9/hooks/{empty_hook}/test/push_events"),
            t,
            None
        )
        .await,
        (
            422,
            json!({"message": "Ensure the project has at least one commit."})
        )
    );
    gl.reset_rate_limits();
    for _ in 0..5 {
        assert_eq!(a.post(&test(hook, "tag_push_events"), t, None).await.0, 201);
    }
    let (s, body) = a.post(&test(hook, "push_events"), t, None).await;
    assert_eq!(s, 429);
    assert_eq!(
        body["message"]["error"],
        "This endpoint has been requested too many times. Try again later."
    );
    assert_eq!(
        ok.requests()[0].header("x-gitlab-event"),
        Some("Tag Push Hook")
    );
    assert_eq!(ok.requests().len(), 5);
}

/// The test trigger's limit is GitLab's application rate limiter: a fixed one-minute window
/// per project and user that counts every call, answered past the limit with 429 and a
/// `Retry-After` that counts down to the window's end (a refused call does not push it back);
/// another project of the same user has a budget of its own. The throttle headers on every
/// answer name the end of the current minute.
#[tokio::test]
async fn the_test_trigger_limit_is_a_fixed_window_with_retry_after() {
    let gl = FakeGitLab::start_with_defaults().await;
    let ok = receiver(StatusCode::OK, "").await;
    let hook = gl.add_hook(GitLabHook::new(P, &format!("{}/hook", ok.url())));
    gl.add_project(GitLabProject::new(10, "platform/other").member(FakeGitLab::USER_ID, 40));
    let other = gl.add_hook(GitLabHook::new(10, &format!("{}/hook", ok.url())));
    let http = reqwest::Client::new();
    let call = |project: u64, hook: u64| {
        http.post(format!(
            "{}/api/v4/projects/{project}/hooks/{hook}/test/push_events",
            gl.url()
        ))
        .header("PRIVATE-TOKEN", FakeGitLab::API_TOKEN)
        .send()
    };
    for _ in 0..5 {
        let answer = call(P, hook).await.unwrap();
        assert_eq!(answer.status(), 201);
        assert!(answer.headers().get("retry-after").is_none());
        let reset: i64 = answer.headers()["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert_eq!(reset % 60, 0, "the end of a minute: {reset}");
        assert!(reset > now && reset <= now + 60, "{reset} vs {now}");
    }
    let refused = call(P, hook).await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry = |r: &reqwest::Response| -> u64 {
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = retry(&refused);
    assert!((1..=60).contains(&first), "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = call(P, hook).await.unwrap();
    assert_eq!(again.status(), 429);
    assert!(
        retry(&again) < first,
        "a fixed window counts down: {} then {first}",
        retry(&again)
    );
    assert_eq!(call(10, other).await.unwrap().status(), 201, "per project");
    assert_eq!(ok.requests().len(), 6, "refused calls deliver nothing");
}

/// The `Link` header's `rel="next"` can be followed verbatim, also for a project addressed by
/// its encoded path, and keeps the request's other parameters.
#[tokio::test]
async fn pagination_links_can_be_followed_for_a_project_addressed_by_path() {
    let gl = FakeGitLab::start_with_defaults().await;
    let ok = receiver(StatusCode::OK, "").await;
    let hooks: Vec<u64> = (0..3)
        .map(|_| gl.add_hook(GitLabHook::new(P, &format!("{}/hook", ok.url()))))
        .collect();
    let http = reqwest::Client::new();
    let next = |r: &reqwest::Response| -> Option<String> {
        let link = r.headers().get("link")?.to_str().ok()?.to_owned();
        link.split(", ").find_map(|part| {
            let (url, rel) = part.split_once("; ")?;
            (rel == "rel=\"next\"").then(|| url.trim_matches(['<', '>']).to_owned())
        })
    };
    let encoded = FakeGitLab::PROJECT_PATH.replace('/', "%2F");
    let mut url = Some(format!(
        "{}/api/v4/projects/{encoded}/hooks?per_page=1&order_by=id",
        gl.url()
    ));
    let mut seen = Vec::new();
    while let Some(u) = url {
        let page = http
            .get(&u)
            .header("PRIVATE-TOKEN", FakeGitLab::API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{u}");
        url = next(&page);
        if let Some(n) = &url {
            assert!(n.contains(&encoded), "the path stays encoded: {n}");
            assert!(n.contains("order_by=id"), "other parameters kept: {n}");
        }
        let body: Value = page.json().await.unwrap();
        seen.extend(
            body.as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_u64().unwrap()),
        );
    }
    assert_eq!(seen, hooks);
}

/// `GET /projects/:id/pipelines`: newest first, paginated, `read_api`, 404 for an invisible
/// project, 403 below Reporter on a private project, open to everyone on a public one.
#[tokio::test]
async fn pipelines_need_read_api_and_reporter_on_private_projects() {
    use pathops_testkit::fake::gitlab::GitLabPipeline;
    let gl = FakeGitLab::start_with_defaults().await;
    let a = api(&gl);
    let http = reqwest::Client::new();
    let page = http
        .get(format!(
            "{}/api/v4/projects/{}/pipelines?per_page=1",
            gl.url(),
            FakeGitLab::PROJECT_PATH.replace('/', "%2F")
        ))
        .header("PRIVATE-TOKEN", FakeGitLab::READ_API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-total"], "2");
    assert_eq!(page.headers()["x-next-page"], "2");
    let body: Value = page.json().await.unwrap();
    assert_eq!(body[0]["id"], FakeGitLab::LATEST_PIPELINE_ID);
    assert_eq!(body[0]["ref"], "main");
    assert_eq!(body[0]["project_id"], P);

    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        "glpat-user-only",
        &["read_user"],
    ));
    let (status, body) = a
        .get(&format!("/projects/{P}/pipelines"), Some("glpat-user-only"))
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    let (status, _) = a
        .get("/projects/999/pipelines", Some(FakeGitLab::API_TOKEN))
        .await;
    assert_eq!(status, 404);

    gl.add_user(GitLabUser::new(7, "guest"));
    gl.add_token(GitLabToken::new(7, "glpat-guest", &["read_api"]));
    gl.add_project(GitLabProject::new(43, "platform/private").member(7, 10));
    gl.add_project(
        GitLabProject::new(44, "platform/public")
            .visibility("public")
            .pipeline(GitLabPipeline::new(600, 1).status("running")),
    );
    let (status, body) = a.get("/projects/43/pipelines", Some("glpat-guest")).await;
    assert_eq!((status, body), (403, json!({"message": "403 Forbidden"})));
    let (status, body) = a.get("/projects/44/pipelines", Some("glpat-guest")).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["status"], "running");
    gl.add_project(GitLabProject::new(45, "platform/reported").member(7, 20));
    let (status, body) = a.get("/projects/45/pipelines", Some("glpat-guest")).await;
    assert_eq!((status, body), (200, json!([])), "no pipelines yet");
}
