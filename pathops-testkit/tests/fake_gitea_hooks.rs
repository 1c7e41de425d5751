//! The fake Gitea's webhooks behave as Gitea's: the hooks API's checks, the test endpoint's
//! 204 before an asynchronous, signed push with Gitea's (and Forgejo's) headers, nothing for
//! an empty repository or a filtered hook, a failed record for an inactive hook or a
//! receiver `ALLOWED_HOST_LIST` refuses, the receiver's answer and the timeout in the
//! history.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use pathops_core::webhook::{Headers, WebhookSecrets, sign, verify_gitea_signature};
use pathops_testkit::fake::gitea::{FakeGitea, GiteaHook, GiteaRepo, GiteaToken};
use secrecy::SecretString;
use serde_json::{Value, json};

const O: &str = FakeGitea::OWNER;
const R: &str = FakeGitea::REPO;
const SECRET: &str = "gitea-hook-secret";

/// What the receiver answers, and how long it takes.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: &'static str,
    delay: Duration,
}

/// One request the receiver got: its headers and body.
type Request = (Vec<(String, String)>, Vec<u8>);
type Received = Arc<Mutex<Vec<Request>>>;

struct Receiver {
    url: String,
    received: Received,
    answer: Arc<Mutex<Answer>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        let received: Received = Arc::default();
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            body: r#"{"status":"accepted"}"#,
            delay: Duration::ZERO,
        }));
        let app = Router::new()
            .route("/webhooks/gitea", post(record))
            .with_state((received.clone(), answer.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/gitea", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            received,
            answer,
            _task: task,
        }
    }

    fn received(&self) -> Vec<Request> {
        self.received.lock().unwrap().clone()
    }

    fn answer(&self, status: u16, body: &'static str, delay: Duration) {
        *self.answer.lock().unwrap() = Answer {
            status,
            body,
            delay,
        };
    }
}

async fn record(
    State((received, answer)): State<(Received, Arc<Mutex<Answer>>)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let pairs = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    received.lock().unwrap().push((pairs, body.to_vec()));
    let answer = answer.lock().unwrap().clone();
    tokio::time::sleep(answer.delay).await;
    (
        StatusCode::from_u16(answer.status).unwrap(),
        answer.body.to_owned(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

async fn call(
    g: &FakeGitea,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", g.api_url()));
    if let Some(t) = token {
        req = req.header("authorization", format!("token {t}"));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn test_hook(g: &FakeGitea, id: u64, query: &str) -> u16 {
    call(
        g,
        reqwest::Method::POST,
        &format!("/repos/{O}/{R}/hooks/{id}/tests{query}"),
        Some(FakeGitea::HOOK_TOKEN),
        None,
    )
    .await
    .0
}

fn secrets() -> WebhookSecrets {
    WebhookSecrets::single(SecretString::from(SECRET.to_owned()))
}

#[tokio::test]
async fn a_test_answers_204_then_delivers_a_signed_push_with_giteas_headers() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(7, &receiver.url).secret(SECRET));
    g.set_delivery_delay(Duration::from_millis(300));
    assert_eq!(test_hook(&g, 7, "").await, 204);
    // Queued, not delivered: the call returned first.
    let queued = g.hook_deliveries();
    assert_eq!(queued.len(), 1);
    assert!(!queued[0].delivered);
    assert!(receiver.received().is_empty());

    let deliveries = g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    let d = &deliveries[0];
    assert!(d.delivered && d.is_succeed, "{d:?}");
    assert_eq!(
        (d.response_status, d.hook_id, d.event.as_str()),
        (Some(200), 7, "push")
    );
    assert_eq!(d.repository, format!("{O}/{R}"));
    assert_eq!(d.response_body, r#"{"status":"accepted"}"#);

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    let h = |name: &str| header(headers, name).unwrap_or_else(|| panic!("no {name}"));
    for name in ["X-Gitea-Delivery", "X-Gogs-Delivery", "X-GitHub-Delivery"] {
        assert_eq!(h(name), d.uuid, "{name}");
    }
    for name in [
        "X-Gitea-Event",
        "X-Gitea-Event-Type",
        "X-Gogs-Event",
        "X-Gogs-Event-Type",
        "X-GitHub-Event",
        "X-GitHub-Event-Type",
    ] {
        assert_eq!(h(name), "push", "{name}");
    }
    assert_eq!(h("content-type"), "application/json");
    let signature = sign::gitea(SECRET, body);
    assert_eq!(h("X-Gitea-Signature"), signature);
    assert_eq!(h("X-Gogs-Signature"), signature);
    assert_eq!(h("X-Hub-Signature-256"), format!("sha256={signature}"));
    let sha1 = h("X-Hub-Signature").strip_prefix("sha1=").unwrap();
    assert!(sha1.len() == 40 && sha1.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        verify_gitea_signature(&Headers::from_pairs(headers.clone()), body, &secrets()),
        Ok(())
    );
    // Gitea 1.24+: the hook's owner kind; not Forgejo.
    assert_eq!(h("X-Gitea-Hook-Installation-Target-Type"), "repository");
    assert_eq!(h("X-GitHub-Hook-Installation-Target-Type"), "repository");
    assert!(header(headers, "X-Forgejo-Delivery").is_none());
    assert!(header(headers, "authorization").is_none());
    // The recorded request is what was sent.
    assert_eq!(d.request_body.as_bytes(), body.as_slice());
    assert_eq!(d.header("X-Gitea-Signature"), Some(signature.as_str()));

    // Gitea's push: pretty-printed, the default branch's head commit, the caller as sender.
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.starts_with("{\n  \""), "{text}");
    let push: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(push["ref"], "refs/heads/main");
    assert_eq!(push["repository"]["id"], FakeGitea::REPO_ID);
    assert_eq!(push["repository"]["full_name"], format!("{O}/{R}"));
    assert_eq!(push["before"], push["after"]);
    assert_eq!(push["head_commit"]["id"], push["after"]);
    assert_eq!(push["commits"].as_array().unwrap().len(), 1);
    assert_eq!(push["total_commits"], 1);
    assert_eq!(push["sender"]["login"], FakeGitea::HOOK_LOGIN);
    assert_eq!(push["pusher"]["login"], FakeGitea::HOOK_LOGIN);
    assert_eq!(push["repository"]["permissions"]["admin"], false);
}

#[tokio::test]
async fn forgejo_adds_its_headers_and_older_gitea_lacks_the_target_type() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(7, &receiver.url).secret(SECRET));
    g.set_version("11.0.3+gitea-1.22.0");
    assert_eq!(test_hook(&g, 7, "").await, 204);
    g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    g.set_version("1.22.6");
    assert_eq!(test_hook(&g, 7, "").await, 204);
    g.wait_for_deliveries(2, Duration::from_secs(5)).await;
    let received = receiver.received();
    let (forgejo, body) = &received[0];
    let h = |name: &str| header(forgejo, name).unwrap();
    assert_eq!(h("X-Forgejo-Delivery"), h("X-Gitea-Delivery"));
    assert_eq!(h("X-Forgejo-Event"), "push");
    assert_eq!(h("X-Forgejo-Event-Type"), "push");
    assert_eq!(h("X-Forgejo-Signature"), sign::gitea(SECRET, body));
    assert!(header(forgejo, "X-Gitea-Hook-Installation-Target-Type").is_none());
    let (gitea, _) = &received[1];
    assert!(header(gitea, "X-Forgejo-Delivery").is_none());
    assert!(header(gitea, "X-Gitea-Hook-Installation-Target-Type").is_none());
    assert!(header(gitea, "X-Gitea-Delivery").is_some());
}

#[tokio::test]
async fn without_a_secret_the_signature_headers_are_empty() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(7, &receiver.url));
    assert_eq!(test_hook(&g, 7, "").await, 204);
    g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    let (headers, body) = &receiver.received()[0];
    assert_eq!(header(headers, "X-Gitea-Signature"), Some(""));
    assert_eq!(header(headers, "X-Hub-Signature"), Some("sha1="));
    assert_eq!(header(headers, "X-Hub-Signature-256"), Some("sha256="));
    assert!(
        verify_gitea_signature(&Headers::from_pairs(headers.clone()), body, &secrets()).is_err()
    );
}

#[tokio::test]
async fn an_empty_repository_answers_204_and_sends_nothing() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(7, &receiver.url).secret(SECRET));
    g.set_repo_empty(O, R, true);
    let (_, repo) = call(
        &g,
        reqwest::Method::GET,
        &format!("/repos/{O}/{R}"),
        Some(FakeGitea::TOKEN),
        None,
    )
    .await;
    assert_eq!(repo["empty"], true);
    assert_eq!(test_hook(&g, 7, "").await, 204);
    // Before the hook is looked up: even an unknown one.
    assert_eq!(test_hook(&g, 999, "").await, 204);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(g.hook_deliveries().is_empty());
    assert!(receiver.received().is_empty());
    g.set_repo_empty(O, R, false);
    assert_eq!(test_hook(&g, 999, "").await, 404);
}

#[tokio::test]
async fn an_inactive_hook_gets_a_failed_record_and_no_request() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(
        O,
        R,
        GiteaHook::new(7, &receiver.url).secret(SECRET).inactive(),
    );
    assert_eq!(test_hook(&g, 7, "").await, 204);
    let d = g
        .wait_for_deliveries(1, Duration::from_secs(5))
        .await
        .remove(0);
    assert!(d.delivered && !d.is_succeed);
    assert_eq!(d.response_status, None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn the_allowed_host_list_refuses_loopback_as_giteas_default_does() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(7, &receiver.url).secret(SECRET));
    g.set_allowed_host_list(Some("external"));
    assert_eq!(test_hook(&g, 7, "").await, 204);
    let d = g
        .wait_for_deliveries(1, Duration::from_secs(5))
        .await
        .remove(0);
    assert!(d.delivered && !d.is_succeed);
    assert!(
        d.response_body.starts_with("Delivery: Post \"")
            && d.response_body.contains(
                "webhook can only call allowed HTTP servers (check your webhook.ALLOWED_HOST_LIST setting), deny '127.0.0.1(127.0.0.1:"
            ),
        "{}",
        d.response_body
    );
    assert!(receiver.received().is_empty());
    g.set_allowed_host_list(Some("external, loopback"));
    assert_eq!(test_hook(&g, 7, "").await, 204);
    let d = g
        .wait_for_deliveries(2, Duration::from_secs(5))
        .await
        .remove(1);
    assert!(d.is_succeed, "{d:?}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn events_branch_filters_refs_and_form_hooks() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(O, R, GiteaHook::new(1, &receiver.url).events(&["issues"]));
    g.add_hook(
        O,
        R,
        GiteaHook::new(2, &receiver.url).branch_filter("release/*"),
    );
    g.add_hook(
        O,
        R,
        GiteaHook::new(3, &receiver.url)
            .secret(SECRET)
            .content_type("form"),
    );
    assert_eq!(test_hook(&g, 1, "").await, 204);
    assert_eq!(test_hook(&g, 2, "").await, 204);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        g.hook_deliveries().is_empty(),
        "not subscribed, or filtered out"
    );
    // A ref the filter lets through is delivered.
    assert_eq!(test_hook(&g, 2, "?ref=refs/heads/release/1.0").await, 204);
    g.wait_for_deliveries(1, Duration::from_secs(5)).await;
    let push: Value = serde_json::from_slice(&receiver.received()[0].1).unwrap();
    assert_eq!(push["ref"], "refs/heads/release/1.0");

    // A form: `payload=<JSON>`, signed over the JSON, so the raw body does not verify.
    assert_eq!(test_hook(&g, 3, "").await, 204);
    g.wait_for_deliveries(2, Duration::from_secs(5)).await;
    let (headers, body) = receiver.received().remove(1);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    assert_eq!(form[0].0, "payload");
    let json = form[0].1.as_bytes();
    assert_eq!(
        header(&headers, "X-Gitea-Signature"),
        Some(sign::gitea(SECRET, json).as_str())
    );
    let h = Headers::from_pairs(headers);
    assert_eq!(verify_gitea_signature(&h, json, &secrets()), Ok(()));
    assert!(verify_gitea_signature(&h, &body, &secrets()).is_err());
}

#[tokio::test]
async fn the_receivers_answer_the_timeout_and_the_authorization_header_are_recorded() {
    let receiver = Receiver::start().await;
    let g = FakeGitea::start_with_defaults().await;
    let mut hook = GiteaHook::new(7, &receiver.url).secret(SECRET);
    hook.authorization_header = Some("Bearer hook-auth".into());
    g.add_hook(O, R, hook);
    receiver.answer(401, r#"{"error":"unauthorized"}"#, Duration::ZERO);
    assert_eq!(test_hook(&g, 7, "").await, 204);
    let d = g
        .wait_for_deliveries(1, Duration::from_secs(5))
        .await
        .remove(0);
    assert_eq!((d.response_status, d.is_succeed), (Some(401), false));
    assert_eq!(d.response_body, r#"{"error":"unauthorized"}"#);
    assert_eq!(d.header("authorization"), Some("******"));
    assert_eq!(
        header(&receiver.received()[0].0, "authorization"),
        Some("Bearer hook-auth")
    );

    g.set_deliver_timeout(Duration::from_secs(1));
    receiver.answer(200, "{}", Duration::from_secs(3));
    assert_eq!(test_hook(&g, 7, "").await, 204);
    let d = g
        .wait_for_deliveries(2, Duration::from_secs(5))
        .await
        .remove(1);
    assert!(!d.is_succeed && d.response_status.is_none());
    assert!(
        d.response_body.contains("DELIVER_TIMEOUT"),
        "{}",
        d.response_body
    );
}

#[tokio::test]
async fn the_hooks_api_checks_scope_visibility_admin_and_the_switch() {
    let g = FakeGitea::start_with_defaults().await;
    g.add_hook(
        O,
        R,
        GiteaHook::new(7, "https://pathops.example.com/webhooks/gitea").secret("SENTINEL-hook"),
    );
    let get = |token| {
        let g = &g;
        async move {
            call(
                g,
                reqwest::Method::GET,
                &format!("/repos/{O}/{R}/hooks/7"),
                token,
                None,
            )
            .await
        }
    };
    let (status, hook) = get(Some(FakeGitea::HOOK_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        hook["config"],
        json!({"url": "https://pathops.example.com/webhooks/gitea", "content_type": "json"})
    );
    assert_eq!(
        (hook["active"].clone(), hook["type"].clone()),
        (json!(true), json!("gitea"))
    );
    assert_eq!(hook["events"], json!(["push"]));
    assert!(
        !hook.to_string().contains("SENTINEL"),
        "the secret is never shown"
    );

    // A read collaborator: reqAdmin.
    let (status, body) = get(Some(FakeGitea::TOKEN)).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "user should be an owner or a collaborator with admin write of a repository"
    );
    // The scope, before anything else.
    let (status, body) = get(Some(FakeGitea::USER_TOKEN)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            403,
            Some("token does not have at least one of required scope(s): [read:repository]")
        )
    );
    g.add_token(GiteaToken::new(
        FakeGitea::HOOK_USER_ID,
        "gitea-hook-reader",
        &["read:repository"],
    ));
    let (status, body) = call(
        &g,
        reqwest::Method::POST,
        &format!("/repos/{O}/{R}/hooks/7/tests"),
        Some("gitea-hook-reader"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            403,
            Some("token does not have at least one of required scope(s): [write:repository]")
        )
    );
    assert_eq!(
        get(Some("gitea-hook-reader")).await.0,
        200,
        "reading needs read:repository"
    );
    // Anonymous: the private repository is hidden; a public one asks for a token.
    assert_eq!(get(None).await.0, 404);
    let mut public = GiteaRepo::new(200, O, "public");
    public.private = false;
    g.add_repo(public);
    let (status, body) = call(
        &g,
        reqwest::Method::GET,
        &format!("/repos/{O}/public/hooks"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("token is required"))
    );
    assert_eq!(
        call(
            &g,
            reqwest::Method::GET,
            &format!("/repos/{O}/{R}/hooks/8"),
            Some(FakeGitea::HOOK_TOKEN),
            None
        )
        .await
        .0,
        404
    );
    g.set_webhooks_disabled(true);
    let (status, body) = get(Some(FakeGitea::HOOK_TOKEN)).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("webhooks disabled by administrator"))
    );
    g.set_webhooks_disabled(false);

    // Create (inactive unless asked), list, edit, delete.
    let (status, created) = call(
        &g,
        reqwest::Method::POST,
        &format!("/repos/{O}/{R}/hooks"),
        Some(FakeGitea::HOOK_TOKEN),
        Some(json!({"type": "gitea", "config": {"url": "https://x/webhooks/gitea", "content_type": "json", "secret": "s"}})),
    )
    .await;
    assert_eq!(
        (status, created["active"].clone(), created["events"].clone()),
        (201, json!(false), json!(["push"]))
    );
    let id = created["id"].as_u64().unwrap();
    assert_eq!(id, 8);
    let (status, _) = call(
        &g,
        reqwest::Method::POST,
        &format!("/repos/{O}/{R}/hooks"),
        Some(FakeGitea::HOOK_TOKEN),
        Some(json!({"type": "gitea", "config": {"url": "https://x"}})),
    )
    .await;
    assert_eq!(status, 422);
    let r = reqwest::Client::new()
        .get(format!("{}/repos/{O}/{R}/hooks", g.api_url()))
        .header("authorization", format!("token {}", FakeGitea::HOOK_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "2");
    let (status, edited) = call(
        &g,
        reqwest::Method::PATCH,
        &format!("/repos/{O}/{R}/hooks/{id}"),
        Some(FakeGitea::HOOK_TOKEN),
        Some(json!({"active": true, "config": {"content_type": "form"}})),
    )
    .await;
    assert_eq!(
        (
            status,
            edited["active"].clone(),
            edited["config"]["content_type"].clone()
        ),
        (200, json!(true), json!("form"))
    );
    assert_eq!(
        g.hook(O, R, id).unwrap().secret.as_deref(),
        Some("s"),
        "an edit without a secret keeps it"
    );
    assert_eq!(
        call(
            &g,
            reqwest::Method::DELETE,
            &format!("/repos/{O}/{R}/hooks/{id}"),
            Some(FakeGitea::HOOK_TOKEN),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &g,
            reqwest::Method::DELETE,
            &format!("/repos/{O}/{R}/hooks/{id}"),
            Some(FakeGitea::HOOK_TOKEN),
            None
        )
        .await
        .0,
        404
    );
}
