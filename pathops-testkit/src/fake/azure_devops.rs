//! [`FakeAzureDevOps`]: the Azure DevOps Services REST surface PathOps uses, for one
//! organization (`/{organization}`), and service hook test notifications that make real
//! deliveries.
//!
//! | call | behaviour |
//! |---|---|
//! | `GET /{org}/_apis/connectionData` | `authenticatedUser`, `authorizedUser`, `instanceId`, `deploymentType: hosted` |
//! | `GET /{org}/_apis/projects/{project}` | scope `vso.project`; 404 `TF200016` |
//! | `GET /{org}/{project}/_apis/git/repositories/{repository}` | scope `vso.code`; 404 `TF200016` (project) or `TF401019` (repository) |
//! | `GET /{org}/_apis/hooks/subscriptions/{id}` | scope `vso.hooks`; `consumerInputs.basicAuthPassword` reads `********` |
//! | `POST /{org}/_apis/hooks/testnotifications` | scope `vso.hooks_write`; with a known `subscriptionId`, queues a test notification (`{id, subscriptionId, status: queued, result: pending}`) and delivers it from a spawned task with the subscription's **stored** Basic credentials |
//! | `GET /{org}/_apis/hooks/testnotifications/{id}` | the notification: `status` `queued` → `completed`, `result` `succeeded` / `failed` / `filtered`, `details.errorMessage` as .NET words it (`The remote server returned an error: (401) Unauthorized.`, `Unable to connect to the remote server`) |
//!
//! Every REST call but `connectionData` needs `api-version` (400 without). Authentication: a
//! PAT as Basic (any user name). An unknown PAT gets **203 with an HTML sign-in page**, as
//! Azure DevOps Services answers (or a plain 401, [`FakeAzureDevOps::set_bad_pat_answers_401`]);
//! a PAT without the call's scope gets 401 `TF400813` JSON.
//!
//! The delivery: `POST` with `Content-Type: application/json; charset=utf-8`, `Authorization:
//! Basic base64(user:password)`, body `{subscriptionId, notificationId, id, eventType,
//! publisherId, message, resource, resourceVersion, resourceContainers, createdDate}`.
//!
//! Assumed (see the connector's module docs): the 203 page, the `TF400813` body, the test
//! notification's payload and error wording, the masked password.

// Handlers return `Err(response)` to answer early (401, 403, 404), as in the other fakes.
#![allow(clippy::result_large_err)]

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::FakeServer;
use super::server::{json, unexpected};

/// A personal access token and its scopes (`vso.code`, `vso.project`, `vso.hooks`,
/// `vso.hooks_write`; `_write` implies read).
#[derive(Debug, Clone, Deserialize)]
pub struct AzurePat {
    /// The token.
    pub token: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

/// A service hook subscription (Web Hooks).
#[derive(Debug, Clone, Deserialize)]
pub struct AzureSubscription {
    /// Its id (a UUID).
    pub id: String,
    /// `enabled`, `onProbation`, `disabledByUser`, `disabledBySystem`, …
    pub status: String,
    /// The receiver URL.
    pub url: String,
    /// Basic authentication user name.
    pub user: Option<String>,
    /// Basic authentication password (the secret).
    pub password: Option<String>,
    /// Whether the subscription's filters drop the test event.
    #[serde(default)]
    pub filters_drop_test: bool,
}

impl AzureSubscription {
    /// An enabled `git.push` Web Hooks subscription to `url` with Basic credentials.
    pub fn new(url: &str, user: &str, password: &str) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            status: "enabled".to_owned(),
            url: url.to_owned(),
            user: Some(user.to_owned()),
            password: Some(password.to_owned()),
            filters_drop_test: false,
        }
    }
}

/// What a fake starts with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AzureDevOpsSeed {
    /// The organization (the first path segment).
    pub organization: String,
    /// Projects, each with its repositories.
    pub projects: Vec<(String, Vec<String>)>,
    /// PATs.
    pub pats: Vec<AzurePat>,
    /// Subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<AzureSubscription>,
}

/// A test notification, as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureNotification {
    /// Its id.
    pub id: u64,
    /// Its subscription.
    pub subscription_id: String,
    /// `queued` or `completed`.
    pub status: String,
    /// `pending`, `succeeded`, `failed`, `filtered`.
    pub result: String,
    /// What went wrong.
    pub error: Option<String>,
    /// What the receiver answered.
    pub response_status: Option<u16>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<(AzureDevOpsSeed, bool)>,
    notifications: Mutex<Vec<AzureNotification>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, (AzureDevOpsSeed, bool)> {
        self.state.lock().expect("fake azure devops lock")
    }

    fn notifications(&self) -> MutexGuard<'_, Vec<AzureNotification>> {
        self.notifications.lock().expect("fake azure devops lock")
    }
}

/// A fake Azure DevOps organization; see the [module docs](self).
#[derive(Debug)]
pub struct FakeAzureDevOps {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for FakeAzureDevOps {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl FakeAzureDevOps {
    /// [`start_with_defaults`](Self::start_with_defaults): the organization.
    pub const ORGANIZATION: &'static str = "acme";
    /// [`start_with_defaults`](Self::start_with_defaults): the project.
    pub const PROJECT: &'static str = "Platform";
    /// [`start_with_defaults`](Self::start_with_defaults): its repository.
    pub const REPOSITORY: &'static str = "api";
    /// [`start_with_defaults`](Self::start_with_defaults): a PAT with every scope PathOps uses.
    pub const PAT: &'static str = "azdo-fake-pat-all-0000000000000000000000000000";
    /// [`start_with_defaults`](Self::start_with_defaults): a PAT with `vso.code` and
    /// `vso.project` only (no service hooks).
    pub const CODE_PAT: &'static str = "azdo-fake-pat-code-000000000000000000000000000";

    /// A fake with the organization `acme`, its project `Platform` with the repository `api`,
    /// the two PATs above and no subscriptions.
    pub async fn start_with_defaults() -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().expect("an address"),
            Self::default_seed(),
        )
        .await
        .expect("bind 127.0.0.1:0")
    }

    /// The seed of [`start_with_defaults`](Self::start_with_defaults).
    pub fn default_seed() -> AzureDevOpsSeed {
        let scopes = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect();
        AzureDevOpsSeed {
            organization: Self::ORGANIZATION.to_owned(),
            projects: vec![(Self::PROJECT.to_owned(), vec![Self::REPOSITORY.to_owned()])],
            pats: vec![
                AzurePat {
                    token: Self::PAT.to_owned(),
                    scopes: scopes(&["vso.code", "vso.project", "vso.hooks_write"]),
                },
                AzurePat {
                    token: Self::CODE_PAT.to_owned(),
                    scopes: scopes(&["vso.code", "vso.project"]),
                },
            ],
            subscriptions: Vec::new(),
        }
    }

    /// A fake seeded with `seed` on `listen`.
    pub async fn start_on(
        listen: std::net::SocketAddr,
        seed: AzureDevOpsSeed,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new((seed, false)),
            notifications: Mutex::new(Vec::new()),
        });
        let server = FakeServer::serve(listener, router(shared.clone()));
        Ok(Self { server, shared })
    }

    /// The organization's URL, the integration's base URL.
    pub fn organization_url(&self) -> String {
        format!("{}/{}", self.url(), self.shared.state().0.organization)
    }

    /// Adds a subscription; returns its id.
    pub fn add_subscription(&self, subscription: AzureSubscription) -> String {
        let id = subscription.id.clone();
        self.shared.state().0.subscriptions.push(subscription);
        id
    }

    /// Answers an unknown PAT with a plain 401 instead of the 203 sign-in page.
    pub fn set_bad_pat_answers_401(&self, on: bool) {
        self.shared.state().1 = on;
    }

    /// Every test notification so far.
    pub fn notifications(&self) -> Vec<AzureNotification> {
        self.shared.notifications().clone()
    }
}

type S = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{org}/_apis/connectionData", get(connection_data))
        .route("/{org}/_apis/projects/{project}", get(project))
        .route(
            "/{org}/{project}/_apis/git/repositories/{repo}",
            get(repository),
        )
        .route("/{org}/_apis/hooks/subscriptions/{id}", get(subscription))
        .route(
            "/{org}/_apis/hooks/testnotifications",
            post(test_notification),
        )
        .route(
            "/{org}/_apis/hooks/testnotifications/{id}",
            get(notification),
        )
        .fallback(|method: Method, uri: Uri| async move {
            unexpected("fake Azure DevOps", &method, &uri)
        })
        .with_state(shared)
}

fn sign_in_page() -> Response {
    let mut r = (
        StatusCode::NON_AUTHORITATIVE_INFORMATION,
        "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>Sign in to your account</body></html>",
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn tf_error(status: StatusCode, message: &str, type_key: &str) -> Response {
    json(
        status,
        json!({"$id": "1", "innerException": null, "message": message,
               "typeName": format!("Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation"),
               "typeKey": type_key, "errorCode": 0, "eventId": 3000}),
    )
}

/// The caller's scopes, or the answer for a refused PAT.
fn pat(state: &(AzureDevOpsSeed, bool), headers: &HeaderMap) -> Result<Vec<String>, Response> {
    let refused = || {
        if state.1 {
            StatusCode::UNAUTHORIZED.into_response()
        } else {
            sign_in_page()
        }
    };
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_owned()))
        .ok_or_else(refused)?;
    state
        .0
        .pats
        .iter()
        .find(|p| p.token == token)
        .map(|p| p.scopes.clone())
        .ok_or_else(refused)
}

fn require(scopes: &[String], scope: &str) -> Result<(), Response> {
    let write = format!("{scope}_write");
    let held = scopes
        .iter()
        .any(|s| s == scope || *s == write || (scope == "vso.hooks" && s == "vso.hooks_write"));
    if held {
        Ok(())
    } else {
        Err(tf_error(
            StatusCode::UNAUTHORIZED,
            "TF400813: The user 'pathops@acme.example' is not authorized to access this resource.",
            "UnauthorizedRequestException",
        ))
    }
}

fn versioned(query: &std::collections::HashMap<String, String>) -> Result<(), Response> {
    if query.contains_key("api-version") {
        Ok(())
    } else {
        Err(tf_error(
            StatusCode::BAD_REQUEST,
            "No api-version was supplied for the request. Please provide an api-version.",
            "VssVersionNotSpecifiedException",
        ))
    }
}

type Q = Query<std::collections::HashMap<String, String>>;

async fn connection_data(State(s): S, headers: HeaderMap) -> Response {
    let state = s.state();
    if let Err(r) = pat(&state, &headers) {
        return r;
    }
    json(
        StatusCode::OK,
        json!({
            "authenticatedUser": {"id": "0f1e2d3c-0000-4000-8000-000000000003",
                "descriptor": "Microsoft.IdentityModel.Claims.ClaimsIdentity;pathops@acme.example",
                "providerDisplayName": "PathOps Bot", "isActive": true},
            "authorizedUser": {"id": "0f1e2d3c-0000-4000-8000-000000000003",
                "providerDisplayName": "PathOps Bot"},
            "instanceId": "5a6b7c8d-0000-4000-8000-000000000004", "deploymentType": "hosted",
        }),
    )
}

fn project_not_found(name: &str) -> Response {
    tf_error(
        StatusCode::NOT_FOUND,
        &format!(
            "TF200016: The following project does not exist: {name}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server."
        ),
        "ProjectDoesNotExistWithNameException",
    )
}

async fn project(
    State(s): S,
    Path((_, name)): Path<(String, String)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let scopes = match pat(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = versioned(&q).and_then(|_| require(&scopes, "vso.project")) {
        return r;
    }
    match state
        .0
        .projects
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(&name))
    {
        Some((p, _)) => json(
            StatusCode::OK,
            json!({"id": "9a8b7c6d-0000-4000-8000-000000000005", "name": p, "state": "wellFormed",
                   "visibility": "private"}),
        ),
        None => project_not_found(&name),
    }
}

async fn repository(
    State(s): S,
    Path((_, name, repo)): Path<(String, String, String)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let scopes = match pat(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = versioned(&q).and_then(|_| require(&scopes, "vso.code")) {
        return r;
    }
    let Some((p, repos)) = state
        .0
        .projects
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(&name))
    else {
        return project_not_found(&name);
    };
    match repos.iter().find(|r| r.eq_ignore_ascii_case(&repo)) {
        Some(r) => json(
            StatusCode::OK,
            json!({"id": "1b2c3d4e-0000-4000-8000-000000000006", "name": r,
                   "project": {"name": p}, "defaultBranch": "refs/heads/main"}),
        ),
        None => tf_error(
            StatusCode::NOT_FOUND,
            &format!(
                "TF401019: The Git repository with name or identifier {repo} does not exist or you do not have permissions for the operation you are attempting."
            ),
            "GitRepositoryNotFoundException",
        ),
    }
}

fn subscription_json(s: &AzureSubscription) -> Value {
    let mut inputs = json!({"url": s.url, "resourceDetailsToSend": "all"});
    if let Some(u) = &s.user {
        inputs["basicAuthUsername"] = json!(u);
    }
    if s.password.is_some() {
        inputs["basicAuthPassword"] = json!("********");
    }
    json!({"id": s.id, "status": s.status, "publisherId": "tfs", "eventType": "git.push",
           "resourceVersion": "1.0", "consumerId": "webHooks", "consumerActionId": "httpRequest",
           "publisherInputs": {"projectId": "9a8b7c6d-0000-4000-8000-000000000005"},
           "consumerInputs": inputs})
}

fn no_subscription(id: &str) -> Response {
    tf_error(
        StatusCode::NOT_FOUND,
        &format!("VS1003: The subscription with id '{id}' does not exist."),
        "SubscriptionNotFoundException",
    )
}

async fn subscription(
    State(s): S,
    Path((_, id)): Path<(String, String)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let state = s.state();
    let scopes = match pat(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = versioned(&q).and_then(|_| require(&scopes, "vso.hooks")) {
        return r;
    }
    match state
        .0
        .subscriptions
        .iter()
        .find(|x| x.id.eq_ignore_ascii_case(&id))
    {
        Some(x) => json(StatusCode::OK, subscription_json(x)),
        None => no_subscription(&id),
    }
}

fn notification_json(n: &AzureNotification) -> Value {
    json!({"id": n.id, "subscriptionId": n.subscription_id, "status": n.status,
           "result": n.result,
           "details": {"errorMessage": n.error, "eventType": "git.push", "consumerId": "webHooks"}})
}

async fn test_notification(State(s): S, Query(q): Q, headers: HeaderMap, body: Bytes) -> Response {
    let sub = {
        let state = s.state();
        let scopes = match pat(&state, &headers) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if let Err(r) = versioned(&q).and_then(|_| require(&scopes, "vso.hooks_write")) {
            return r;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = body["subscriptionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match state
            .0
            .subscriptions
            .iter()
            .find(|x| x.id.eq_ignore_ascii_case(&id))
        {
            Some(x) => x.clone(),
            None => return no_subscription(&id),
        }
    };
    let n = {
        let mut all = s.notifications();
        let n = AzureNotification {
            id: 1000 + all.len() as u64,
            subscription_id: sub.id.clone(),
            status: "queued".to_owned(),
            result: "pending".to_owned(),
            error: None,
            response_status: None,
        };
        all.push(n.clone());
        n
    };
    let shared = s.clone();
    let id = n.id;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (result, error, status) = deliver(&sub, id).await;
        if let Some(n) = shared.notifications().iter_mut().find(|n| n.id == id) {
            n.status = "completed".to_owned();
            n.result = result.to_owned();
            n.error = error;
            n.response_status = status;
        }
    });
    json(StatusCode::OK, notification_json(&n))
}

async fn deliver(sub: &AzureSubscription, id: u64) -> (&'static str, Option<String>, Option<u16>) {
    if sub.filters_drop_test {
        return ("filtered", None, None);
    }
    let body = json!({
        "subscriptionId": sub.id, "notificationId": id,
        "id": "03c164c2-8912-4d5e-8009-3707d5f83734", "eventType": "git.push", "publisherId": "tfs",
        "message": {"text": "Jamal Hartnett pushed updates to Fabrikam-Fiber-Git:master."},
        "resource": {"refUpdates": [{"name": "refs/heads/master"}],
            "repository": {"name": "Fabrikam-Fiber-Git"}},
        "resourceVersion": "1.0",
        "resourceContainers": {"project": {"id": "9a8b7c6d-0000-4000-8000-000000000005"}},
        "createdDate": "2026-12-06T21:00:00.000Z",
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("a client");
    let mut request = client
        .post(&sub.url)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    if let (Some(user), Some(password)) = (&sub.user, &sub.password) {
        request = request.basic_auth(user, Some(password));
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => ("succeeded", None, Some(r.status().as_u16())),
        Ok(r) => {
            let status = r.status();
            (
                "failed",
                Some(format!(
                    "The remote server returned an error: ({}) {}.",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("Error")
                )),
                Some(status.as_u16()),
            )
        }
        Err(_) => (
            "failed",
            Some("Unable to connect to the remote server".to_owned()),
            None,
        ),
    }
}

async fn notification(
    State(s): S,
    Path((_, id)): Path<(String, u64)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    {
        let state = s.state();
        let scopes = match pat(&state, &headers) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if let Err(r) = versioned(&q).and_then(|_| require(&scopes, "vso.hooks")) {
            return r;
        }
    }
    match s.notifications().iter().find(|n| n.id == id) {
        Some(n) => json(StatusCode::OK, notification_json(n)),
        None => tf_error(
            StatusCode::NOT_FOUND,
            "The notification does not exist.",
            "NotificationNotFoundException",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_pat_gets_the_sign_in_page_and_a_test_notification_delivers_with_the_stored_password()
     {
        let receiver = FakeServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            Router::new().route("/hook", post(|| async { "ok" })),
        )
        .await
        .unwrap();
        let az = FakeAzureDevOps::start_with_defaults().await;
        let sub = az.add_subscription(AzureSubscription::new(
            &format!("{}/hook", receiver.url()),
            "pathops",
            "s3",
        ));
        let client = reqwest::Client::new();
        let org = az.organization_url();
        let bad = client
            .get(format!("{org}/_apis/connectionData"))
            .basic_auth("", Some("nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 203);
        assert!(bad.text().await.unwrap().contains("Sign In"));
        let no_version = client
            .get(format!("{org}/_apis/projects/Platform"))
            .basic_auth("", Some(FakeAzureDevOps::PAT))
            .send()
            .await
            .unwrap();
        assert_eq!(no_version.status(), 400);
        let read: Value = client
            .get(format!(
                "{org}/_apis/hooks/subscriptions/{sub}?api-version=7.1"
            ))
            .basic_auth("", Some(FakeAzureDevOps::PAT))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["consumerInputs"]["basicAuthPassword"], "********");
        let scope = client
            .get(format!(
                "{org}/_apis/hooks/subscriptions/{sub}?api-version=7.1"
            ))
            .basic_auth("", Some(FakeAzureDevOps::CODE_PAT))
            .send()
            .await
            .unwrap();
        assert_eq!(scope.status(), 401);
        let queued: Value = client
            .post(format!(
                "{org}/_apis/hooks/testnotifications?api-version=7.1"
            ))
            .basic_auth("", Some(FakeAzureDevOps::PAT))
            .json(&json!({"subscriptionId": sub}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(queued["status"], "queued");
        for _ in 0..50 {
            if az.notifications()[0].status == "completed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(az.notifications()[0].result, "succeeded");
        let got = &receiver.requests_to("/hook")[0];
        assert_eq!(
            got.header("authorization"),
            Some(
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("pathops:s3")
                )
                .as_str()
            )
        );
        assert_eq!(got.json().unwrap()["subscriptionId"], sub.as_str());
    }
}
