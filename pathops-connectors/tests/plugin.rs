//! Out-of-process plugins: the conformance suite through the Python example plugin, and the
//! host's behaviour with plugins that misbehave (written here as small Python scripts).

#![cfg(all(feature = "plugin", unix))]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathops_connectors::plugin::{PluginConnector, PluginLoader, PluginMode, PluginOptions};
use pathops_core::CatalogStore;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, Outcome, Selection};
use pathops_core::store::{AuditQuery, PluginState};
use pathops_core::webhook::ChallengeRegistry;
use pathops_core::{
    Configuration, FailureCode, Integration, IntegrationConnector, IntegrationType, NewIntegration,
    Provider, TimeRange,
};
use pathops_store::MemoryStore;
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::harbor::FakeHarbor;
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::json;

const SENTINEL: &str = "SENTINEL-plugin-secret-4f1c";

fn harbor_lite_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/plugins/harbor-lite/pathops-plugin.json")
}

fn harbor_lite() -> Provider {
    Provider::custom("harbor-lite", IntegrationType::Registry).unwrap()
}

fn integration(provider: Provider, url: &str, username: &str) -> Integration {
    IntegrationBuilder::new("acme", "harbor-lite")
        .provider(provider)
        .base_url(url)
        .configuration(json!({ "username": username }))
        .build()
}

struct Harness {
    harbor: FakeHarbor,
    connector: Arc<PluginConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(harbor_lite(), &self.harbor.url(), FakeHarbor::ROBOT)
    }
    fn valid_secret(&self) -> Option<SecretString> {
        Some(SecretString::from(FakeHarbor::ROBOT_SECRET))
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-the-robot-secret")
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::empty())
    }
    async fn set_latency(&self, latency: Duration) {
        self.harbor.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(python_plugin_conformance, async {
    Harness {
        harbor: FakeHarbor::start_with_defaults().await,
        connector: Arc::new(
            PluginConnector::from_manifest(&harbor_lite_manifest(), &PluginOptions::default())
                .expect("the example's manifest checks"),
        ),
    }
});

pathops_testkit::connector_conformance_tests!(python_plugin_per_call_conformance, async {
    Harness {
        harbor: FakeHarbor::start_with_defaults().await,
        connector: Arc::new(
            PluginConnector::from_manifest(
                &harbor_lite_manifest(),
                &PluginOptions::default().with_mode(PluginMode::PerCall),
            )
            .unwrap(),
        ),
    }
});

/// A test plugin in Python whose behaviour is `mode`.
const FAULTY: &str = r#"#!/usr/bin/python3
import json, os, sys, threading, time
MODE = "__MODE__"
M = json.load(open("pathops-plugin.json"))
lock = threading.Lock()
state = {"active": 0, "peak": 0}

def send(m):
    with lock:
        sys.stdout.write(json.dumps(m) + "\n")
        sys.stdout.flush()

def ok(i, r):
    send({"jsonrpc": "2.0", "id": i, "result": r})

def handle(m):
    i, meth, p = m.get("id"), m["method"], m.get("params") or {}
    if meth == "initialize":
        if MODE == "version_mismatch":
            return send({"jsonrpc": "2.0", "id": i, "error": {"code": -32602,
                "message": "no protocol version in common",
                "data": {"supported": [2], "requested": p["protocol_versions"]}}})
        r = {k: M[k] for k in ("plugin_id", "version", "provider", "integration_type", "capabilities")}
        r["protocol_version"] = 1
        if MODE == "wrong_version":
            r["version"] = "9.9.9"
        return ok(i, r)
    if meth in ("shutdown", "validate_config"):
        return ok(i, {})
    if meth == "expected_delivery":
        project = p["integration"]["configuration"].get("project_id")
        if project is None or p["request"]["type"] != "webhook_test":
            return ok(i, None)
        return ok(i, {"kind": "gitea", "expectation": {"project_id": project, "event": "push"}})
    if meth == "trigger_delivery":
        return ok(i, {"reachability": "passed", "authentication": "passed", "latency": 1,
                      "failure": None, "message": "triggered %s" % p["request"]["trigger"],
                      "details": {"hook_id": 3}})
    if MODE == "crash_once" and not os.path.exists("crashed"):
        open("crashed", "w").close()
        sys.stderr.write("about to crash holding %s\n" % p.get("secret"))
        sys.stderr.flush()
        os._exit(3)
    if MODE in ("hang", "orphan"):
        time.sleep(3600)
    if MODE == "garbage":
        sys.stdout.write("hello from a stray print\n")
        sys.stdout.flush()
        return
    if MODE == "oversized":
        return ok(i, {"padding": "a" * (2 * 1024 * 1024)})
    with lock:
        state["active"] += 1
        state["peak"] = max(state["peak"], state["active"])
    if MODE == "slow":
        time.sleep(0.05)
    with lock:
        state["active"] -= 1
    ok(i, {"reachability": "passed", "authentication": "passed", "latency": 1,
           "failure": None, "message": "pid %d peak %d" % (os.getpid(), state["peak"]),
           "details": {}})

for line in sys.stdin:
    m = json.loads(line)
    if "id" in m:
        threading.Thread(target=handle, args=(m,), daemon=True).start()
if MODE == "orphan":
    # Outlives its stdin: only the parent-death signal (or a kill) ends it.
    time.sleep(3600)
"#;

/// A plugin directory holding the faulty plugin in `mode`, its manifest computed.
fn faulty_plugin(root: &Path, name: &str, mode: &str) -> PathBuf {
    faulty_plugin_with(root, name, mode, &["test_connection", "health_check"])
}

fn faulty_plugin_with(root: &Path, name: &str, mode: &str, capabilities: &[&str]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("plugin.py");
    std::fs::write(&exe, FAULTY.replace("__MODE__", mode)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sha = pathops_connectors::plugin::manifest::sha256_file(&exe).unwrap();
    let manifest = json!({
        "plugin_id": format!("test.{name}"),
        "provider": format!("faulty-{name}"),
        "integration_type": "feed",
        "version": "0.1.0",
        "protocol_versions": [1],
        "capabilities": capabilities,
        "executable": "plugin.py",
        "sha256": sha,
    });
    let path = dir.join("pathops-plugin.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    path
}

fn faulty(root: &Path, name: &str, mode: &str) -> PluginConnector {
    faulty_with(root, name, mode, PluginOptions::default())
}

fn faulty_with(root: &Path, name: &str, mode: &str, options: PluginOptions) -> PluginConnector {
    PluginConnector::from_manifest(&faulty_plugin(root, name, mode), &options).unwrap()
}

fn feed_integration(c: &PluginConnector) -> Integration {
    IntegrationBuilder::new("acme", "feed")
        .provider(c.provider())
        .base_url("https://feed.example.com")
        .build()
}

async fn check(c: &PluginConnector, timeout: Duration) -> pathops_core::CheckResult {
    let ctx = context(
        feed_integration(c),
        Some(SecretString::from(SENTINEL)),
        timeout,
    );
    c.check_health(&ctx).await
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry: only a reaped process is gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.contains(") Z "),
        Err(_) => false,
    }
}

async fn gone_within(pid: u32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_plugin_that_declares_webhook_tests_takes_part_in_the_round_trip() {
    use pathops_core::DeliveryRequest;
    use pathops_core::webhook::DeliveryKind;
    let root = tempfile::tempdir().unwrap();
    let manifest = faulty_plugin_with(
        root.path(),
        "hooks",
        "ok",
        &["test_connection", "health_check", "webhook_test"],
    );
    let c = PluginConnector::from_manifest(&manifest, &PluginOptions::default()).unwrap();
    let mut i = feed_integration(&c);
    i.configuration = Configuration::new(json!({"project_id": 7})).unwrap();
    let push = DeliveryRequest::WebhookTest {
        trigger: "push_events".into(),
    };
    let (kind, expectation) = c
        .expected_delivery(&i, &push)
        .await
        .expect("an expectation");
    assert_eq!(kind, DeliveryKind::Gitea);
    assert_eq!(
        (expectation.project_id, expectation.event.as_deref()),
        (Some(7), Some("push"))
    );
    let r = c
        .trigger_delivery(&context(i.clone(), None, CHECK_TIMEOUT), &push)
        .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.message, "triggered push_events");
    assert_eq!(r.details["hook_id"], 3);
    // Not declared: refused by the host without asking the plugin.
    let ping = c
        .trigger_delivery(
            &context(i.clone(), None, CHECK_TIMEOUT),
            &DeliveryRequest::HookPing,
        )
        .await;
    assert_eq!(ping.failure, Some(FailureCode::Unsupported));
    assert_eq!(
        c.expected_delivery(&i, &DeliveryRequest::HookPing).await,
        None
    );
    let mut no_project = i;
    no_project.configuration = Configuration::empty();
    assert_eq!(c.expected_delivery(&no_project, &push).await, None);
}

#[tokio::test]
async fn a_protocol_version_no_side_speaks_quarantines_naming_both() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty(root.path(), "v2", "version_mismatch");
    let r = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PluginProtocolError),
        "{}",
        r.message
    );
    assert!(r.message.contains("the host speaks [1]"), "{}", r.message);
    assert!(r.message.contains("\"supported\":[2]"), "{}", r.message);
    assert!(matches!(c.state(), PluginState::Quarantined { .. }));
    let again = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(again.failure, Some(FailureCode::PluginQuarantined));
    assert!(c.pids().await.is_empty(), "nothing runs once quarantined");
}

#[tokio::test]
async fn an_initialize_answer_that_contradicts_the_manifest_quarantines() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty(root.path(), "liar", "wrong_version");
    let r = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(r.failure, Some(FailureCode::PluginProtocolError));
    assert!(
        r.message
            .contains("version is \"9.9.9\"; the manifest says \"0.1.0\""),
        "{}",
        r.message
    );
    assert_eq!(
        check(&c, CHECK_TIMEOUT).await.failure,
        Some(FailureCode::PluginQuarantined)
    );
}

#[tokio::test]
async fn an_executable_changed_after_discovery_is_quarantined_before_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty(root.path(), "swapped", "ok");
    assert!(check(&c, CHECK_TIMEOUT).await.is_success());
    c.shutdown().await;
    // Someone replaces the executable: the next start verifies the checksum first.
    let exe = root.path().join("swapped/plugin.py");
    let text = std::fs::read_to_string(&exe).unwrap();
    // Same length, so only the file's change time tells it apart from the verified one.
    std::fs::write(&exe, text.replace("MODE = \"ok\"", "MODE = \"ev\"")).unwrap();
    let r = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PluginQuarantined),
        "{}",
        r.message
    );
    assert!(r.message.contains("the manifest says"), "{}", r.message);
    assert!(c.pids().await.is_empty());
}

#[tokio::test]
async fn a_crash_mid_call_is_reported_with_redacted_stderr_and_the_next_call_recovers() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty(root.path(), "crashy", "crash_once");
    let r = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(r.failure, Some(FailureCode::PluginCrashed), "{}", r.message);
    assert!(r.message.contains("exit status: 3"), "{}", r.message);
    assert!(
        r.message.contains("about to crash holding [REDACTED]"),
        "{}",
        r.message
    );
    assert!(
        !r.message.contains(SENTINEL),
        "the secret leaked: {}",
        r.message
    );
    assert!(c.stderr_tail().iter().all(|l| !l.contains(SENTINEL)));
    assert!(
        !format!("{c:?}").contains(SENTINEL),
        "Debug shows no secret"
    );
    assert!(
        format!("{r:?}{}", serde_json::to_string(&r).unwrap())
            .find(SENTINEL)
            .is_none()
    );
    // The next call restarts the plugin (after the 100 ms backoff) and passes.
    let next = check(&c, CHECK_TIMEOUT).await;
    assert!(next.is_success(), "{}", next.message);
}

#[tokio::test]
async fn a_hanging_plugin_is_killed_at_the_deadline_and_leaves_no_process() {
    let root = tempfile::tempdir().unwrap();
    let c = Arc::new(faulty(root.path(), "hang", "hang"));
    let call = tokio::spawn({
        let c = c.clone();
        async move {
            let started = Instant::now();
            (
                check(&c, Duration::from_millis(600)).await,
                started.elapsed(),
            )
        }
    });
    let pid = loop {
        if let Some(pid) = c.pids().await.first().copied() {
            break pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While the call runs: the secret is in neither the environment nor the command line.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let text = String::from_utf8_lossy(&environ);
    assert!(!text.contains(SENTINEL) && !String::from_utf8_lossy(&cmdline).contains(SENTINEL));
    assert_eq!(
        text.split('\0')
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>(),
        ["PATHOPS_PLUGIN_PROTOCOL=1"],
        "an empty environment but the protocol marker"
    );
    let (r, took) = call.await.unwrap();
    assert_eq!(r.failure, Some(FailureCode::PluginTimeout), "{}", r.message);
    assert!(
        r.message.contains("its process group was killed"),
        "{}",
        r.message
    );
    assert!(
        took < Duration::from_millis(600) + Duration::from_secs(1),
        "{took:?}"
    );
    assert!(
        gone_within(pid, Duration::from_secs(2)).await,
        "pid {pid} is still running"
    );
}

#[tokio::test]
async fn garbage_on_stdout_is_a_protocol_error_and_kills_the_plugin() {
    let root = tempfile::tempdir().unwrap();
    let c = Arc::new(faulty(root.path(), "chatty", "garbage"));
    let r = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PluginProtocolError),
        "{}",
        r.message
    );
    assert!(
        r.message.contains("hello from a stray print"),
        "{}",
        r.message
    );
    assert!(matches!(c.state(), PluginState::Quarantined { .. }));
}

#[tokio::test]
async fn a_message_over_the_cap_is_a_protocol_error() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty(root.path(), "big", "oversized");
    let r = check(&c, CHECK_TIMEOUT).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PluginProtocolError),
        "{}",
        r.message
    );
    assert!(r.message.contains("over 1048576 bytes"), "{}", r.message);
}

#[tokio::test]
async fn a_hundred_concurrent_calls_share_one_process_within_its_concurrency() {
    let root = tempfile::tempdir().unwrap();
    let c = Arc::new(faulty_with(
        root.path(),
        "busy",
        "slow",
        PluginOptions::default().with_max_concurrency(8),
    ));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { check(&c, Duration::from_secs(30)).await })
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    let mut peak = 0;
    for call in calls {
        let r = call.await.unwrap();
        assert!(r.is_success(), "{}", r.message);
        let words: Vec<&str> = r.message.split(' ').collect();
        pids.insert(words[1].to_owned());
        peak = peak.max(words[3].parse::<u32>().unwrap());
    }
    assert_eq!(pids.len(), 1, "one long-lived process: {pids:?}");
    assert!(peak <= 8, "at most 8 calls at once, saw {peak}");
    assert!(peak >= 2, "calls ran concurrently, saw {peak}");
}

#[tokio::test]
async fn each_tenant_gets_its_own_process() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty(root.path(), "tenants", "ok");
    let mut other = feed_integration(&c);
    other.tenant_id = "globex".parse().unwrap();
    let a = check(&c, CHECK_TIMEOUT).await;
    let b = c.check_health(&context(other, None, CHECK_TIMEOUT)).await;
    assert!(a.is_success() && b.is_success());
    assert_ne!(a.message.split(' ').nth(1), b.message.split(' ').nth(1));
    assert_eq!(c.pids().await.len(), 2);
}

/// Run by `the_host_exiting_leaves_no_plugin_behind` in a child process: starts a plugin,
/// prints its pid, and waits to be killed.
#[tokio::test]
#[ignore = "run as a child process by the_host_exiting_leaves_no_plugin_behind"]
async fn host_child_process() {
    let Ok(root) = std::env::var("PATHOPS_PLUGIN_HOST_CHILD") else {
        return;
    };
    let c = Arc::new(faulty(Path::new(&root), "orphan", "orphan"));
    let call = tokio::spawn({
        let c = c.clone();
        async move { check(&c, Duration::from_secs(600)).await }
    });
    loop {
        if let Some(pid) = c.pids().await.first() {
            #[allow(clippy::print_stdout)] // the parent test reads it
            {
                println!("PLUGIN_PID={pid}");
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = call.await;
}

#[tokio::test]
async fn the_host_exiting_leaves_no_plugin_behind() {
    use std::io::BufRead;
    let root = tempfile::tempdir().unwrap();
    let mut host = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["host_child_process", "--exact", "--ignored", "--nocapture"])
        .env("PATHOPS_PLUGIN_HOST_CHILD", root.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(host.stdout.take().unwrap());
    let pid: u32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("PLUGIN_PID=").map(|p| p.parse().unwrap()))
        .expect("the child host printed its plugin's pid");
    assert!(alive(pid));
    // SIGKILL: no destructor runs in the host; the parent-death signal must end the plugin.
    host.kill().unwrap();
    host.wait().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(5)).await,
        "the plugin {pid} outlived its host"
    );
}

#[tokio::test]
async fn the_catalog_discovers_plugins_and_the_doctor_reports_them_like_any_other() {
    let harbor = FakeHarbor::start_with_defaults().await;
    let plugins = tempfile::tempdir().unwrap();
    // The Python example, copied as an operator would install it.
    let dir = plugins.path().join("harbor-lite");
    std::fs::create_dir(&dir).unwrap();
    let example = harbor_lite_manifest();
    for file in ["pathops-plugin.json", "harbor_lite.py"] {
        std::fs::copy(example.parent().unwrap().join(file), dir.join(file)).unwrap();
    }
    faulty_plugin(plugins.path(), "liar", "wrong_version");
    let loader = Arc::new(PluginLoader::new(
        PluginOptions::default().with_dirs([plugins.path()]),
    ));
    let store = Arc::new(MemoryStore::new());
    let catalog = Catalog::builder(store.clone())
        .with_plugins(loader.clone())
        .with_secrets(Arc::new(pathops_core::secret::StaticResolver::new().with(
            "ref://acme/harbor/robot".parse().unwrap(),
            FakeHarbor::ROBOT_SECRET,
        )))
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());

    // Nothing serves harbor-lite before discovery.
    assert!(catalog.connector(&harbor_lite()).is_none());
    let rows = catalog.discover_plugins(&admin).await.unwrap();
    let row = |rows: &[pathops_core::store::PluginMetadata], id: &str| {
        rows.iter()
            .find(|r| r.descriptor.id == id)
            .cloned()
            .unwrap()
    };
    let lite = row(&rows, "example.harbor-lite");
    assert_eq!(lite.state, PluginState::Ready);
    assert!(
        lite.path
            .as_deref()
            .unwrap()
            .ends_with("harbor-lite/harbor_lite.py")
    );
    assert_eq!(row(&rows, "test.liar").state, PluginState::Ready);

    let created = catalog
        .create(
            &admin,
            NewIntegration::builder("registry", harbor_lite(), harbor.url().as_str())
                .with_auth_ref("ref://acme/harbor/robot")
                .with_configuration(json!({"username": FakeHarbor::ROBOT}))
                .build()
                .unwrap(),
            true,
        )
        .await
        .unwrap();
    // The plugin validates configurations on create.
    let refused = catalog
        .create(
            &admin,
            NewIntegration::builder("bad", harbor_lite(), harbor.url().as_str())
                .with_configuration(json!({"user": "x"}))
                .build()
                .unwrap(),
            true,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("user"), "{refused}");

    let doctor = Doctor::builder(catalog.clone(), Arc::new(ChallengeRegistry::new())).build();
    let report = doctor.run(&admin, &Selection::All).await.unwrap();
    assert_eq!(report.integrations.len(), 1);
    let r = &report.integrations[0];
    assert_eq!(r.outcome, Outcome::Passed, "{:?}", r.findings);
    let health = catalog
        .health(&admin, created.id, TimeRange::all(), 10)
        .await
        .unwrap();
    assert_eq!(health.history.len(), 1, "one evidence row");
    assert!(health.history[0].failure.is_none());
    let audit = catalog
        .audit_query(&admin, &AuditQuery::for_integration(created.id))
        .await
        .unwrap();
    assert!(audit.len() >= 2, "create and the doctor's test: {audit:?}");
    let events = store
        .claim_outbox(&pathops_core::event::OutboxClaim {
            owner: "test".into(),
            limit: 100,
            now: time::OffsetDateTime::now_utc(),
            lease: Duration::from_secs(60),
        })
        .await
        .unwrap();
    let kinds: Vec<String> = events
        .iter()
        .filter(|e| e.envelope.integration_id == created.id)
        .map(|e| e.envelope.event_type.to_string())
        .collect();
    assert!(
        kinds.iter().any(|k| k == "integration.healthy"),
        "the check's lifecycle event: {kinds:?}"
    );
    assert!(!format!("{report:?}").contains(FakeHarbor::ROBOT_SECRET));

    // A plugin that lies in its handshake is quarantined by its first call, and the next
    // discovery records it.
    let liar = Provider::custom("faulty-liar", IntegrationType::Feed).unwrap();
    let connector = catalog.connector(&liar).unwrap();
    let ctx = context(feed_integration_for(&liar), None, CHECK_TIMEOUT);
    assert_eq!(
        connector.check_health(&ctx).await.failure,
        Some(FailureCode::PluginProtocolError)
    );
    let rows = catalog.discover_plugins(&admin).await.unwrap();
    let state = row(&rows, "test.liar").state;
    assert!(
        matches!(&state, PluginState::Quarantined { reason } if reason.contains("9.9.9")),
        "{state:?}"
    );
    // The running harbor-lite processes (acme's, and the one that validated the
    // configurations) survived the rediscovery: the connector was cached.
    let lite_connector = loader.connector("example.harbor-lite").unwrap();
    assert_eq!(
        lite_connector.pids().await.len(),
        2,
        "a fresh connector would run none"
    );

    // The plugin vanishes from disk: disabled, and no longer serving.
    std::fs::remove_dir_all(&dir).unwrap();
    let rows = catalog.discover_plugins(&admin).await.unwrap();
    assert!(matches!(
        row(&rows, "example.harbor-lite").state,
        PluginState::Disabled { .. }
    ));
    assert!(catalog.connector(&harbor_lite()).is_none());
    loader.shutdown().await;
}

fn feed_integration_for(provider: &Provider) -> Integration {
    IntegrationBuilder::new("acme", "feed")
        .provider(provider.clone())
        .base_url("https://feed.example.com")
        .build()
}

#[tokio::test]
async fn a_plugin_for_a_built_in_provider_serves_only_when_the_operator_lets_it() {
    let plugins = tempfile::tempdir().unwrap();
    let dir = plugins.path().join("harbor-py");
    std::fs::create_dir(&dir).unwrap();
    let example = harbor_lite_manifest();
    std::fs::copy(
        example.parent().unwrap().join("harbor_lite.py"),
        dir.join("harbor_lite.py"),
    )
    .unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&example).unwrap()).unwrap();
    manifest["provider"] = json!("harbor");
    manifest["plugin_id"] = json!("example.harbor-py");
    std::fs::write(dir.join("pathops-plugin.json"), manifest.to_string()).unwrap();
    let builtin = || {
        let mut registry = pathops_core::ConnectorRegistry::new();
        registry
            .register(Arc::new(
                pathops_connectors::harbor::HarborConnector::builder()
                    .build()
                    .unwrap(),
            ))
            .unwrap();
        registry
    };
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    let options = || PluginOptions::default().with_dirs([plugins.path()]);

    let cautious = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(builtin())
        .with_plugins(Arc::new(PluginLoader::new(options())))
        .build()
        .unwrap();
    let rows = cautious.discover_plugins(&admin).await.unwrap();
    let plugin = rows
        .iter()
        .find(|r| r.descriptor.id == "example.harbor-py")
        .unwrap();
    assert!(
        matches!(&plugin.state, PluginState::Disabled { reason } if reason.contains("compiled-in")),
        "{:?}",
        plugin.state
    );
    assert!(
        cautious
            .connector(&Provider::Harbor)
            .unwrap()
            .descriptor()
            .id
            .starts_with("pathops."),
        "the built-in connector still serves"
    );

    let overriding = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(builtin())
        .with_plugins(Arc::new(PluginLoader::new(options())))
        .with_plugin_override(Provider::Harbor)
        .build()
        .unwrap();
    let rows = overriding.discover_plugins(&admin).await.unwrap();
    let builtin_row = rows
        .iter()
        .find(|r| r.descriptor.id == "pathops.harbor")
        .unwrap();
    assert!(matches!(builtin_row.state, PluginState::Disabled { .. }));
    assert_eq!(
        overriding
            .connector(&Provider::Harbor)
            .unwrap()
            .descriptor()
            .id,
        "example.harbor-py"
    );
}

#[tokio::test]
async fn a_bad_manifest_is_quarantined_with_the_field_named_and_nothing_runs() {
    let plugins = tempfile::tempdir().unwrap();
    let path = faulty_plugin(plugins.path(), "typo", "ok");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["executable"] = json!("../../bin/sh");
    std::fs::write(&path, manifest.to_string()).unwrap();
    let checksum = faulty_plugin(plugins.path(), "tampered", "ok");
    let exe = checksum.parent().unwrap().join("plugin.py");
    std::fs::write(&exe, "#!/bin/sh\necho pwned\n").unwrap();
    let loader = PluginLoader::new(PluginOptions::default().with_dirs([plugins.path()]));
    let found = pathops_core::plugin::PluginSource::discover(&loader)
        .await
        .unwrap();
    let state = |id: &str| {
        found
            .iter()
            .find(|p| p.metadata.descriptor.id == id)
            .map(|p| p.metadata.state.clone())
            .unwrap()
    };
    assert!(
        matches!(state("test.typo"), PluginState::Quarantined { reason } if reason.contains("executable: a relative path")),
        "{:?}",
        state("test.typo")
    );
    assert!(
        matches!(state("test.tampered"), PluginState::Quarantined { reason } if reason.contains("SHA-256")),
        "{:?}",
        state("test.tampered")
    );
    let tampered = loader.connector("test.tampered").unwrap();
    let r = check(&tampered, CHECK_TIMEOUT).await;
    assert_eq!(r.failure, Some(FailureCode::PluginQuarantined));
    assert!(
        tampered.pids().await.is_empty(),
        "a quarantined plugin never runs"
    );
}

#[tokio::test]
async fn an_idle_long_lived_process_is_shut_down_and_the_next_call_starts_another() {
    let root = tempfile::tempdir().unwrap();
    let c = faulty_with(
        root.path(),
        "idle",
        "ok",
        PluginOptions::default().with_idle_timeout(Some(Duration::from_millis(300))),
    );
    let first = check(&c, CHECK_TIMEOUT).await;
    assert!(first.is_success(), "{}", first.message);
    let pid = c.pids().await[0];
    assert!(
        gone_within(pid, Duration::from_secs(3)).await,
        "the idle process {pid} was not stopped"
    );
    assert!(c.pids().await.is_empty());
    let again = check(&c, CHECK_TIMEOUT).await;
    assert!(again.is_success(), "{}", again.message);
    assert_ne!(c.pids().await, [pid], "a new process");
}
