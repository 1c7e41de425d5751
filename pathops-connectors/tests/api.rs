//! The REST API over real HTTP on loopback: every route by scope, tenant isolation, If-Match,
//! malformed input, problem documents, the OpenAPI snapshot.
#![cfg(feature = "api")]

use std::sync::Arc;

use pathops_connectors::api::{Api, ApiOptions, StaticTokens};
use pathops_connectors::receiver::RouterOptions;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::Doctor;
use pathops_core::secret::StaticResolver;
use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
use pathops_core::{AuthRef, ConnectorRegistry, HealthPolicy};
use pathops_store::SqliteStore;
use pathops_testkit::in_memory::InMemoryConnector;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

const ADMIN: &str = "acme-admin-token-0001";
const APPROVER: &str = "acme-approver-token-02";
const READER: &str = "acme-reader-token-0003";
const NOBODY: &str = "acme-no-scope-token-04";
const OTHER_TENANT: &str = "globex-admin-token-05";
const SENTINEL: &str = "glpat-SENTINEL-do-not-echo-7f3a";

fn principal(tenant: &str, actor: &str, scopes: &[pathops_core::catalog::Scope]) -> Principal {
    Principal::new(
        tenant.parse().unwrap(),
        actor.parse().unwrap(),
        scopes.iter().copied(),
    )
}

/// The one reference the test tenant's integrations use.
fn secrets() -> Arc<StaticResolver> {
    Arc::new(StaticResolver::new().with(
        AuthRef::parse("ref://acme/in-memory/token").unwrap(),
        "s3cr3t",
    ))
}

async fn catalog() -> Catalog {
    let store = SqliteStore::in_memory().await.unwrap();
    let mut connectors = ConnectorRegistry::new();
    connectors
        .register(Arc::new(InMemoryConnector::default()))
        .unwrap();
    Catalog::builder(Arc::new(store))
        .with_policy(HealthPolicy {
            require_approval: true,
            ..HealthPolicy::default()
        })
        .with_connectors(connectors)
        .with_secrets(secrets())
        .build()
        .unwrap()
}

fn tokens() -> StaticTokens {
    use pathops_core::catalog::Scope::{IntegrationsAdmin, IntegrationsRead};
    StaticTokens::new()
        .with_token(ADMIN, principal("acme", "alice", &[IntegrationsAdmin]))
        .unwrap()
        .with_token(APPROVER, principal("acme", "carol", &[IntegrationsAdmin]))
        .unwrap()
        .with_token(READER, principal("acme", "bob", &[IntegrationsRead]))
        .unwrap()
        .with_token(NOBODY, principal("acme", "dave", &[]))
        .unwrap()
        .with_token(
            OTHER_TENANT,
            principal("globex", "eve", &[IntegrationsAdmin]),
        )
        .unwrap()
}

/// A running API on loopback.
struct Server {
    base: String,
    http: reqwest::Client,
}

async fn serve(api: Api) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = api.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

async fn start() -> Server {
    let catalog = catalog().await;
    let challenges = Arc::new(ChallengeRegistry::new());
    let doctor = Doctor::builder(catalog.clone(), challenges.clone()).build();
    serve(
        Api::new(catalog)
            .with_principals(tokens())
            .with_doctor(doctor)
            .with_receiver(WebhookReceiver::new(challenges), RouterOptions::new())
            .with_options(ApiOptions::new().with_max_body_bytes(16 * 1024)),
    )
    .await
}

/// An answer: status, headers and the body as JSON (`Null` when empty).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: header::HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem document with `status` and `code`, `instance` = `path`.
    fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(
            self.body["type"],
            format!("urn:pathops:problem:{code}"),
            "{}",
            self.text
        );
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        assert!(self.body["instance"].as_str().unwrap().starts_with('/'));
        self
    }
}

impl Server {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    async fn create(&self, name: &str, submit: bool) -> Answer {
        let answer = self
            .post(
                "/api/v1/integrations",
                ADMIN,
                json!({
                    "provider": "in-memory", "type": "scm",
                    "name": name,
                    "base_url": "https://tool.example.com",
                    "auth_ref": "ref://acme/in-memory/token",
                    "tags": ["team:platform"],
                    "environment": "prod",
                    "submit": submit,
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Answer {
        status,
        headers,
        body,
        text,
    }
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap().to_owned()
}

/// One route: method, path (with `{id}`), body, and whether reading is enough.
struct Route {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    read: bool,
}

fn routes() -> Vec<Route> {
    let r = |method: Method, path: &'static str, body: Option<Value>, read: bool| Route {
        method,
        path,
        body,
        read,
    };
    vec![
        r(Method::GET, "/api/v1/integrations", None, true),
        r(Method::GET, "/api/v1/integrations/by-type/scm", None, true),
        r(Method::GET, "/api/v1/integrations/{id}", None, true),
        r(Method::GET, "/api/v1/integrations/{id}/health", None, true),
        r(Method::GET, "/api/v1/integrations/{id}/audit", None, true),
        r(Method::GET, "/api/v1/plugins", None, true),
        r(
            Method::POST,
            "/api/v1/integrations",
            Some(
                json!({"provider": "in-memory", "type": "scm", "name": "by-scope", "base_url": "https://t.example.com"}),
            ),
            false,
        ),
        r(
            Method::PUT,
            "/api/v1/integrations/{id}",
            Some(
                json!({"provider": "in-memory", "type": "scm", "name": "renamed", "base_url": "https://t.example.com"}),
            ),
            false,
        ),
        r(Method::POST, "/api/v1/integrations/{id}/test", None, false),
        r(
            Method::POST,
            "/api/v1/integrations/{id}/health-check",
            None,
            false,
        ),
        r(
            Method::POST,
            "/api/v1/integrations/{id}/pause",
            Some(json!({"reason": "maintenance"})),
            false,
        ),
        r(
            Method::POST,
            "/api/v1/integrations/{id}/resume",
            None,
            false,
        ),
        r(
            Method::POST,
            "/api/v1/integrations/{id}/activate",
            None,
            false,
        ),
        r(Method::POST, "/api/v1/plugins/discover", None, false),
        r(Method::POST, "/api/v1/doctor/runs", None, false),
        r(Method::DELETE, "/api/v1/integrations/{id}", None, false),
    ]
}

#[tokio::test]
async fn every_route_refuses_a_missing_principal_and_a_missing_scope() {
    let server = start().await;
    let id = id_of(&server.create("scoped", true).await);
    for route in routes() {
        let path = route.path.replace("{id}", &id);
        let if_match = [("If-Match", "*")];
        let headers: &[(&str, &str)] = if route.method == Method::PUT {
            &if_match
        } else {
            &[]
        };
        let call = |token| {
            server.call(
                route.method.clone(),
                &path,
                token,
                route.body.clone(),
                headers,
            )
        };
        let anonymous = call(None).await;
        anonymous.problem(401, "unauthenticated");
        assert_eq!(
            anonymous.header("www-authenticate"),
            "Bearer realm=\"pathops\"",
            "{} {path}",
            route.method
        );
        let wrong = call(Some("not-a-token-of-this-server")).await;
        wrong.problem(401, "unauthenticated");
        let nobody = call(Some(NOBODY)).await;
        nobody.problem(403, "missing_scope");
        let needed = if route.read {
            "integrations.read"
        } else {
            "integrations.admin"
        };
        assert!(
            nobody.body["detail"].as_str().unwrap().contains(needed),
            "{}",
            nobody.text
        );
        let reader = call(Some(READER)).await;
        if route.read {
            assert_eq!(
                reader.status,
                StatusCode::OK,
                "{} {path}: {}",
                route.method,
                reader.text
            );
        } else {
            reader.problem(403, "missing_scope");
            assert!(
                reader.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("integrations.admin"),
                "{}",
                reader.text
            );
        }
    }
}

#[tokio::test]
async fn an_admin_walks_an_integration_through_its_life() {
    let server = start().await;
    let created = server.create("GitLab (platform)", true).await;
    let id = id_of(&created);
    assert_eq!(
        created.header("location"),
        format!("/api/v1/integrations/{id}")
    );
    assert_eq!(created.header("etag"), "\"1\"");
    assert_eq!(created.body["status"], "pending_verification");
    assert_eq!(created.body["type"], "scm");
    assert_eq!(created.body["auth_ref"], "ref://acme/in-memory/token");
    assert!(created.body.get("tenant_id").is_none());

    let got = server.get(created.header("location"), READER).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, created.body);
    assert_eq!(got.header("etag"), "\"1\"");

    let tested = server
        .post(
            &format!("/api/v1/integrations/{id}/test"),
            ADMIN,
            Value::Null,
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text);
    assert_eq!(
        tested.body["result"]["authentication"], "passed",
        "{}",
        tested.text
    );
    assert_eq!(
        tested.body["record"]["status"], "healthy",
        "{}",
        tested.text
    );
    assert_eq!(tested.body["integration"]["verified"], true);

    // The creator may not approve its own integration; another admin may.
    let own = server
        .post(
            &format!("/api/v1/integrations/{id}/activate"),
            ADMIN,
            json!({}),
        )
        .await;
    own.problem(403, "self_approval");
    let named = server
        .post(
            &format!("/api/v1/integrations/{id}/activate"),
            APPROVER,
            json!({ "approver": "alice" }),
        )
        .await;
    named.problem(422, "validation_failed");
    assert_eq!(named.body["errors"][0]["field"], "approver");
    let active = server
        .post(
            &format!("/api/v1/integrations/{id}/activate"),
            APPROVER,
            json!({ "approver": "carol" }),
        )
        .await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.text);
    assert_eq!(active.body["status"], "active");

    let paused = server
        .post(
            &format!("/api/v1/integrations/{id}/pause"),
            ADMIN,
            json!({ "reason": "maintenance window", "ticket": "CHG-7" }),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text);
    assert_eq!(paused.body["status"], "paused");
    assert_eq!(paused.body["pause_ticket"], "CHG-7");
    server
        .post(
            &format!("/api/v1/integrations/{id}/test"),
            ADMIN,
            Value::Null,
        )
        .await
        .problem(409, "invalid_transition");
    let resumed = server
        .post(
            &format!("/api/v1/integrations/{id}/resume"),
            ADMIN,
            Value::Null,
        )
        .await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text);
    assert_eq!(resumed.body["integration"]["status"], "active");

    let health = server
        .get(&format!("/api/v1/integrations/{id}/health"), READER)
        .await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(health.body["history"].as_array().unwrap().len(), 2);
    assert!(health.body["latest"].is_object());
    assert_eq!(health.body["last_24h"]["checks"], 2, "{}", health.text);

    // Audit pages: create, test, activate, pause, resume (+ its check).
    let first = server
        .get(&format!("/api/v1/integrations/{id}/audit?limit=2"), READER)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = server
        .get(
            &format!("/api/v1/integrations/{id}/audit?cursor={cursor}&limit=1000"),
            READER,
        )
        .await;
    assert!(
        rest.body["items"].as_array().unwrap().len() >= 3,
        "{}",
        rest.text
    );
    assert_eq!(rest.body["next_cursor"], Value::Null);
    assert_ne!(rest.body["items"][0], first.body["items"][0]);

    let list = server
        .get(
            "/api/v1/integrations?type=scm&status=active&tag=team:platform",
            READER,
        )
        .await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );
    let none = server
        .get("/api/v1/integrations?status=draft", READER)
        .await;
    assert_eq!(none.body["items"], json!([]));

    let discovered = server
        .post("/api/v1/plugins/discover", ADMIN, Value::Null)
        .await;
    assert_eq!(discovered.status, StatusCode::OK, "{}", discovered.text);
    assert_eq!(
        discovered.body["items"][0]["descriptor"]["provider"],
        json!({"custom": "in-memory", "type": "scm"})
    );
    let plugins = server.get("/api/v1/plugins", READER).await;
    assert_eq!(plugins.body, discovered.body);

    let report = server
        .post("/api/v1/doctor/runs", ADMIN, json!({ "ids": [id] }))
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(report.body["schema"], "pathops.doctor/v1");
    assert_eq!(report.body["integrations"].as_array().unwrap().len(), 1);
    let filtered = server
        .post("/api/v1/doctor/runs", ADMIN, json!({ "type": "registry" }))
        .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.text);
    assert_eq!(filtered.body["integrations"], json!([]));
    let bad_filter = server
        .post("/api/v1/doctor/runs", ADMIN, json!({ "type": "spaceship" }))
        .await;
    bad_filter.problem(422, "validation_failed");
    assert_eq!(bad_filter.body["errors"][0]["field"], "type");
    server
        .post(
            "/api/v1/doctor/runs",
            ADMIN,
            json!({ "ids": [id], "tag": "x" }),
        )
        .await
        .problem(422, "validation_failed");

    let etag = server
        .get(&format!("/api/v1/integrations/{id}"), READER)
        .await
        .header("etag")
        .to_owned();
    let deleted = server
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/{id}"),
            Some(ADMIN),
            None,
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    for path in ["", "/health", "/audit"] {
        server
            .get(&format!("/api/v1/integrations/{id}{path}"), READER)
            .await
            .problem(404, "not_found");
    }
}

#[tokio::test]
async fn another_tenants_integration_is_not_found_never_forbidden() {
    let server = start().await;
    let id = id_of(&server.create("acme-only", true).await);
    for route in routes().into_iter().filter(|r| r.path.contains("{id}")) {
        let path = route.path.replace("{id}", &id);
        let answer = server
            .call(
                route.method.clone(),
                &path,
                Some(OTHER_TENANT),
                route.body.clone(),
                &[("If-Match", "*")],
            )
            .await;
        answer.problem(404, "not_found");
    }
    let list = server.get("/api/v1/integrations", OTHER_TENANT).await;
    assert_eq!(list.body["items"], json!([]));
    // Still there, untouched, for its own tenant.
    let own = server
        .get(&format!("/api/v1/integrations/{id}"), READER)
        .await;
    assert_eq!(own.body["version"], 1);
    // A body naming another tenant changes nothing: the tenant is the caller's.
    let smuggled = server
        .post(
            "/api/v1/integrations",
            OTHER_TENANT,
            json!({"provider": "in-memory", "type": "scm", "name": "x", "base_url": "https://t.example.com", "tenant_id": "acme"}),
        )
        .await;
    smuggled.problem(422, "invalid_body");
    let foreign_ref = server
        .post(
            "/api/v1/integrations",
            OTHER_TENANT,
            json!({"provider": "in-memory", "type": "scm", "name": "x", "base_url": "https://t.example.com", "auth_ref": "ref://acme/in-memory/token"}),
        )
        .await;
    foreign_ref.problem(422, "validation_failed");
    assert_eq!(foreign_ref.body["errors"][0]["field"], "auth_ref");
    assert_eq!(foreign_ref.body["errors"][0]["code"], "auth_ref_denied");
}

#[tokio::test]
async fn replacing_needs_the_current_version() {
    let server = start().await;
    let id = id_of(&server.create("versioned", false).await);
    let path = format!("/api/v1/integrations/{id}");
    let body = json!({"provider": "in-memory", "type": "scm", "name": "versioned v2", "base_url": "https://tool.example.com", "auth_ref": "ref://acme/in-memory/token"});
    let put = |if_match: Option<&'static str>| {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
        let path = path.clone();
        let body = body.clone();
        let server = &server;
        async move {
            server
                .call(Method::PUT, &path, Some(ADMIN), Some(body), &headers)
                .await
        }
    };
    put(None).await.problem(428, "if_match_required");
    put(Some("\"7\"")).await.problem(412, "stale_version");
    put(Some("W/\"1\"")).await.problem(400, "invalid_parameter");
    put(Some("1")).await.problem(400, "invalid_parameter");
    let replaced = put(Some("\"1\"")).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(replaced.header("etag"), "\"2\"");
    assert_eq!(replaced.body["name"], "versioned v2");
    // A full replacement: the fields left out are cleared.
    assert_eq!(replaced.body["tags"], json!([]));
    assert_eq!(replaced.body["environment"], Value::Null);
    put(Some("\"1\"")).await.problem(412, "stale_version");
    // The same content again changes nothing and is no error.
    let same = put(Some("\"2\"")).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(same.header("etag"), "\"2\"");
    let stale_delete = server
        .call(
            Method::DELETE,
            &path,
            Some(ADMIN),
            None,
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale_delete.problem(412, "stale_version");
    assert_eq!(server.get(&path, READER).await.status, StatusCode::OK);
    // Taken names conflict.
    server.create("taken", false).await;
    let mut taken = body.clone();
    taken["name"] = json!("taken");
    server
        .call(
            Method::PUT,
            &path,
            Some(ADMIN),
            Some(taken),
            &[("If-Match", "*")],
        )
        .await
        .problem(409, "already_exists");
}

#[tokio::test]
async fn malformed_requests_get_problems_that_name_the_field_and_echo_nothing() {
    let server = start().await;
    let id = id_of(&server.create("target", false).await);
    let create = "/api/v1/integrations";

    let syntax = server
        .raw(
            Method::POST,
            create,
            "application/json",
            format!("{{\"name\": \"{SENTINEL}").into_bytes(),
        )
        .await;
    syntax.problem(400, "malformed_json");
    assert!(syntax.body["detail"].as_str().unwrap().contains("line 1"));

    server
        .raw(Method::POST, create, "text/plain", b"{}".to_vec())
        .await
        .problem(415, "unsupported_media_type");
    server
        .raw(
            Method::POST,
            &format!("{create}/{id}/pause"),
            "application/x-www-form-urlencoded",
            b"reason=x".to_vec(),
        )
        .await
        .problem(415, "unsupported_media_type");

    let big = json!({"provider": "in-memory", "type": "scm", "name": "big", "base_url": "https://t.example.com",
        "configuration": {"blob": "x".repeat(20 * 1024)}});
    server
        .raw(
            Method::POST,
            create,
            "application/json",
            serde_json::to_vec(&big).unwrap(),
        )
        .await
        .problem(413, "body_too_large");

    let unknown = server
        .post(create, ADMIN, json!({"provider": "in-memory", "type": "scm", "name": "n", "base_url": "https://t.example.com", "colour": SENTINEL}))
        .await;
    unknown.problem(422, "invalid_body");
    assert_eq!(unknown.body["errors"][0]["code"], "unknown_field");
    assert!(
        unknown.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("`colour`"),
        "{}",
        unknown.text
    );

    let wrong_type = server
        .post(create, ADMIN, json!({"provider": "in-memory", "type": "scm", "name": "n", "base_url": "https://t.example.com", "tags": SENTINEL}))
        .await;
    wrong_type.problem(422, "invalid_body");
    assert_eq!(wrong_type.body["errors"][0]["field"], "tags");

    let missing = server
        .post(
            create,
            ADMIN,
            json!({"provider": "in-memory", "type": "scm", "name": "n"}),
        )
        .await;
    missing.problem(422, "invalid_body");
    assert!(missing.text.contains("base_url"));

    let not_object = server
        .post(
            create,
            ADMIN,
            json!(["in-memory", "n", "https://t.example.com"]),
        )
        .await;
    not_object.problem(422, "invalid_body");

    let credentials = server
        .post(create, ADMIN, json!({"provider": "in-memory", "type": "scm", "name": "n", "base_url": format!("https://user:{SENTINEL}@t.example.com")}))
        .await;
    credentials.problem(422, "validation_failed");
    assert_eq!(credentials.body["errors"][0]["field"], "base_url");

    let bad_name = server
        .post(create, ADMIN, json!({"provider": "in-memory", "type": "scm", "name": format!("{SENTINEL}\u{7}"), "base_url": "https://t.example.com"}))
        .await;
    bad_name.problem(422, "validation_failed");
    assert_eq!(bad_name.body["errors"][0]["field"], "name");

    let bad_provider = server
        .post(create, ADMIN, json!({"provider": "gitlab", "type": "registry", "name": "n", "base_url": "https://t.example.com"}))
        .await;
    bad_provider.problem(422, "validation_failed");
    assert_eq!(
        bad_provider.body["errors"][0]["code"],
        "provider_type_mismatch"
    );

    server
        .get("/api/v1/integrations?cursor=bm90LWEtY3Vyc29y", READER)
        .await
        .problem(400, "invalid_cursor");
    let limit = server
        .get(&format!("/api/v1/integrations?limit={SENTINEL}"), READER)
        .await;
    limit.problem(400, "invalid_parameter");
    assert_eq!(limit.body["errors"][0]["field"], "limit");
    server
        .get("/api/v1/integrations?limit=501", READER)
        .await
        .problem(400, "invalid_parameter");
    let status = server
        .get(&format!("/api/v1/integrations?status={SENTINEL}"), READER)
        .await;
    status.problem(400, "invalid_parameter");
    assert_eq!(status.body["errors"][0]["field"], "status");
    server
        .get(
            &format!("/api/v1/integrations/{id}/audit?cursor=abc"),
            READER,
        )
        .await
        .problem(400, "invalid_cursor");
    server
        .get(
            &format!("/api/v1/integrations/{id}/health?from=yesterday"),
            READER,
        )
        .await
        .problem(400, "invalid_parameter");
    server
        .get("/api/v1/integrations/by-type/spaceship", READER)
        .await
        .problem(400, "invalid_parameter");

    let not_uuid = server
        .get(&format!("/api/v1/integrations/{SENTINEL}"), READER)
        .await;
    not_uuid.problem(400, "invalid_parameter");
    assert_eq!(not_uuid.body["errors"][0]["field"], "id");
    // A UUID, but not a v7: it can name no integration.
    server
        .get(
            "/api/v1/integrations/6f1c2b1e-8d4a-4c3b-9f5e-2a7d9c0b1e3f",
            READER,
        )
        .await
        .problem(404, "not_found");

    // Nothing above reached the catalog: still the one integration, unchanged.
    let list = server.get("/api/v1/integrations", READER).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["version"], 1);

    for answer in [
        &syntax,
        &unknown,
        &wrong_type,
        &credentials,
        &bad_name,
        &limit,
        &status,
        &not_uuid,
    ] {
        assert!(!answer.text.contains(SENTINEL), "echoed: {}", answer.text);
    }
}

#[tokio::test]
async fn the_router_answers_unknown_routes_and_methods_with_problems_and_keeps_the_receivers_shape()
{
    let server = start().await;
    let missing = server.get("/api/v1/nothing-here", ADMIN).await;
    missing.problem(404, "not_found");
    assert_eq!(missing.body["instance"], "/api/v1/nothing-here");
    let method = server
        .call(
            Method::PATCH,
            "/api/v1/integrations",
            Some(ADMIN),
            None,
            &[],
        )
        .await;
    method.problem(405, "method_not_allowed");
    assert!(
        method.header("allow").contains("POST"),
        "{:?}",
        method.headers
    );
    // The receiver, mounted beside the API, keeps its own `{"error": code}` answers.
    let hook = server
        .call(
            Method::POST,
            "/webhooks/unknown-kind",
            None,
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(hook.status, StatusCode::NOT_FOUND);
    assert_eq!(hook.body, json!({"error": "not_found"}));
    let unsigned = server
        .call(Method::POST, "/webhooks/gitlab", None, Some(json!({})), &[])
        .await;
    assert_eq!(
        unsigned.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unsigned.text
    );
    assert!(unsigned.body["error"].is_string(), "{}", unsigned.text);
}

#[tokio::test]
async fn an_embedders_layer_can_supply_the_principal() {
    let catalog = catalog().await;
    let router = Api::new(catalog).router().layer(axum::middleware::from_fn(
        |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
            // The embedder's own authentication: here, a header its proxy sets.
            if request.headers().get("x-proxy-user").is_some() {
                request.extensions_mut().insert(Principal::reader(
                    "acme".parse().unwrap(),
                    "proxy-user".parse().unwrap(),
                ));
            }
            next.run(request).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let server = Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    let anonymous = server
        .call(Method::GET, "/api/v1/integrations", None, None, &[])
        .await;
    anonymous.problem(401, "unauthenticated");
    let proxied = server
        .call(
            Method::GET,
            "/api/v1/integrations",
            None,
            None,
            &[("x-proxy-user", "1")],
        )
        .await;
    assert_eq!(proxied.status, StatusCode::OK, "{}", proxied.text);
    // Without a doctor the route says so, after the scope check.
    let doctor = server
        .call(
            Method::POST,
            "/api/v1/doctor/runs",
            None,
            None,
            &[("x-proxy-user", "1")],
        )
        .await;
    doctor.problem(403, "missing_scope");
}

#[tokio::test]
async fn the_openapi_document_is_served_and_matches_the_committed_snapshot() {
    let server = start().await;
    let served = server
        .call(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(served.status, StatusCode::OK);
    let document = Api::openapi();
    assert_eq!(served.body, document);
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    let create = &document["paths"]["/api/v1/integrations"]["post"]["responses"];
    for status in ["201", "401", "403", "409", "413", "415", "422"] {
        assert!(
            create[status].is_object(),
            "createIntegration lacks {status}"
        );
    }
    assert_eq!(
        create["201"]["links"]["GetIntegration"]["operationId"],
        "getIntegration"
    );
    assert!(
        create["422"]["content"]["application/problem+json"].is_object(),
        "problems are documented as application/problem+json"
    );
    let put = &document["paths"]["/api/v1/integrations/{id}"]["put"]["responses"];
    for status in ["200", "412", "428"] {
        assert!(put[status].is_object(), "replaceIntegration lacks {status}");
    }

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let rendered = format!("{}\n", serde_json::to_string_pretty(&document).unwrap());
    if std::env::var_os("PATHOPS_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/openapi.json is not the API's document: review the change and run \
         PATHOPS_UPDATE_OPENAPI=1 cargo test -p pathops-connectors --test api"
    );
}

#[tokio::test]
async fn slow_requests_time_out_and_a_full_server_sheds_load() {
    use pathops_testkit::in_memory::Outcome;
    let store = SqliteStore::in_memory().await.unwrap();
    let mut connectors = ConnectorRegistry::new();
    // A tool that never answers: the check would wait for the catalog's 15 s deadline.
    connectors
        .register(Arc::new(
            InMemoryConnector::builder()
                .with_default_outcome(Outcome::hang())
                .build(),
        ))
        .unwrap();
    let catalog = Catalog::builder(Arc::new(store))
        .with_connectors(connectors)
        .with_secrets(secrets())
        .build()
        .unwrap();
    let options = ApiOptions::new()
        .with_request_timeout(std::time::Duration::from_millis(300))
        .with_max_in_flight(1);
    let server = serve(
        Api::new(catalog)
            .with_principals(tokens())
            .with_options(options),
    )
    .await;
    let id = id_of(&server.create("slow", true).await);
    let test = format!("/api/v1/integrations/{id}/test");

    let started = std::time::Instant::now();
    let timed_out = server.post(&test, ADMIN, Value::Null).await;
    timed_out.problem(504, "timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // While one slow request holds the only slot, the next is refused at once.
    let slow = {
        let server = Server {
            base: server.base.clone(),
            http: reqwest::Client::new(),
        };
        let test = test.clone();
        tokio::spawn(async move { server.post(&test, ADMIN, Value::Null).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let shed = server.get("/api/v1/integrations", READER).await;
    shed.problem(503, "overloaded");
    assert_eq!(shed.header("retry-after"), "1");
    slow.await.unwrap().problem(504, "timeout");
    // And once it is gone, the server answers again.
    assert_eq!(
        server.get("/api/v1/integrations", READER).await.status,
        StatusCode::OK
    );
}
