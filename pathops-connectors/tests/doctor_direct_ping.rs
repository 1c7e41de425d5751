//! The doctor over loopback HTTP with the direct-ping protocol: PathOps → tool and
//! tool → PathOps, each direction failing alone reported as that direction; paused
//! integrations skipped; evidence recorded; the JSON report.
#![cfg(all(feature = "directping", feature = "receiver"))]

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::directping::DirectPingConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, Outcome, Selection, Severity};
use pathops_core::health::{CheckKind, TimeRange};
use pathops_core::secret::StaticResolver;
use pathops_core::store::AuditQuery;
use pathops_core::webhook::{ChallengeRegistry, WebhookReceiver};
use pathops_core::{AuditAction, ConnectorRegistry, NewIntegration, Probe, Provider};
use pathops_store::MemoryStore;
use pathops_testkit::fake::ping_tool::{FakePingTool, PingSwitches};

const SECRET: &str = "SENTINEL-direct-ping-shared";

struct World {
    catalog: Catalog,
    doctor: Doctor,
    admin: Principal,
    tool: FakePingTool,
    _receiver: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(
            DirectPingConnector::builder(Provider::Zastava)
                .build()
                .unwrap(),
        ))
        .unwrap();
    let secrets = StaticResolver::new().with("ref://acme/zastava/token".parse().unwrap(), SECRET);
    let catalog = Catalog::builder(store)
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let challenges = Arc::new(ChallengeRegistry::new());
    let app = pathops_connectors::receiver::router(WebhookReceiver::new(challenges.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let doctor = Doctor::builder(catalog.clone(), challenges)
        .with_public_url(public_url)
        .with_delivery_timeout(Duration::from_secs(2))
        .build();
    let tool = FakePingTool::start(SECRET).await.unwrap();
    World {
        catalog,
        doctor,
        admin: Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap()),
        tool,
        _receiver: receiver,
    }
}

/// The statuses PathOps answered to the tool's callbacks. The tool records a status once it
/// has read PathOps's answer, which can be just after the doctor saw the delivery: wait for it
/// (bounded), without asserting anything about time.
async fn callbacks(tool: &FakePingTool) -> Vec<u16> {
    for _ in 0..200 {
        let statuses = tool.callback_statuses();
        if !statuses.is_empty() {
            return statuses;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tool.callback_statuses()
}

async fn register(w: &World, name: &str) -> pathops_core::Integration {
    let input = NewIntegration::builder(name, Provider::Zastava, w.tool.url())
        .with_auth_ref("ref://acme/zastava/token")
        .build()
        .unwrap();
    w.catalog.create(&w.admin, input, true).await.unwrap()
}

#[tokio::test]
async fn both_directions_pass_and_the_evidence_is_recorded() {
    let w = world().await;
    let agent = register(&w, "zastava-eu").await;
    let report = w.doctor.run(&w.admin, &Selection::All).await.unwrap();
    assert_eq!(
        (report.summary.passed, report.summary.failed),
        (1, 0),
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    let r = &report.integrations[0];
    let ping = r.ping.as_ref().expect("ping ran");
    assert_eq!(
        (ping.pathops_to_tool, ping.tool_to_pathops),
        (Probe::Passed, Probe::Passed),
        "{ping:?}"
    );
    assert_eq!(
        (r.reachability, r.authentication),
        (Probe::Passed, Probe::Passed)
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(report.all_passed());
    assert_eq!(
        callbacks(&w.tool).await,
        vec![200],
        "PathOps accepted the callback"
    );

    // Evidence: one health row of kind doctor and one audit entry; the integration is active.
    let health = w
        .catalog
        .health(&w.admin, agent.id, TimeRange::all(), 10)
        .await
        .unwrap();
    assert_eq!(health.history.len(), 1);
    assert_eq!(health.history[0].kind, CheckKind::Doctor);
    assert_eq!(r.status, pathops_core::IntegrationStatus::Active);
    let audit = w
        .catalog
        .audit_query(&w.admin, &AuditQuery::for_integration(agent.id))
        .await
        .unwrap();
    assert_eq!(audit.last().unwrap().record.action, AuditAction::Tested);

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema"], "pathops.doctor/v1");
    assert_eq!(json["integrations"][0]["ping"]["tool_to_pathops"], "passed");
    assert!(!json.to_string().contains(SECRET));
}

#[tokio::test]
async fn pathops_to_tool_failing_alone_is_reported_as_that_direction() {
    let w = world().await;
    register(&w, "refusing").await;
    w.tool.set_switches(PingSwitches {
        refuse_pathops: true,
        ..PingSwitches::default()
    });
    let report = w.doctor.run(&w.admin, &Selection::All).await.unwrap();
    let r = &report.integrations[0];
    assert_eq!(r.outcome, Outcome::Failed);
    let ping = r.ping.as_ref().unwrap();
    assert_eq!(
        (ping.pathops_to_tool, ping.tool_to_pathops),
        (Probe::Failed, Probe::NotChecked)
    );
    let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"ping_pathops_to_tool"), "{codes:?}");
    assert!(!codes.contains(&"ping_tool_to_pathops"), "{codes:?}");
    assert!(w.tool.callback_statuses().is_empty());
}

#[tokio::test]
async fn tool_to_pathops_failing_alone_is_reported_as_that_direction() {
    for switches in [
        PingSwitches {
            skip_callback: true,
            ..PingSwitches::default()
        },
        PingSwitches {
            wrong_proof: true,
            ..PingSwitches::default()
        },
    ] {
        let w = world().await;
        register(&w, "one-way").await;
        w.tool.set_switches(switches);
        let report = w.doctor.run(&w.admin, &Selection::All).await.unwrap();
        let r = &report.integrations[0];
        assert_eq!(r.outcome, Outcome::Failed, "{switches:?}");
        let ping = r.ping.as_ref().unwrap();
        assert_eq!(
            (ping.pathops_to_tool, ping.tool_to_pathops),
            (Probe::Passed, Probe::Failed),
            "{switches:?}"
        );
        let finding = r
            .findings
            .iter()
            .find(|f| f.code == "ping_tool_to_pathops")
            .expect("direction named");
        assert_eq!(finding.severity, Severity::Error);
        let expected_code = if switches.wrong_proof {
            "delivery_rejected"
        } else {
            "delivery_not_received"
        };
        assert_eq!(
            r.failure_code.as_deref(),
            Some(expected_code),
            "{switches:?}"
        );
        if switches.wrong_proof {
            assert_eq!(
                callbacks(&w.tool).await,
                vec![401],
                "the forged proof was refused"
            );
        }
    }
}

#[tokio::test]
async fn paused_integrations_are_skipped_and_never_contacted() {
    let w = world().await;
    let paused = register(&w, "paused-agent").await;
    w.catalog
        .test_connection(&w.admin, paused.id)
        .await
        .unwrap();
    w.catalog
        .pause(&w.admin, paused.id, "host maintenance", Some("CHG-9"))
        .await
        .unwrap();
    let before = w.tool.requests().len();
    let report = w
        .doctor
        .run(&w.admin, &Selection::Ids(vec![paused.id]))
        .await
        .unwrap();
    assert_eq!(report.summary.skipped, 1);
    assert_eq!(report.integrations[0].outcome, Outcome::Skipped);
    assert!(report.integrations[0].message.contains("host maintenance"));
    assert_eq!(
        w.tool.requests().len(),
        before,
        "a paused integration was contacted"
    );
}

#[tokio::test]
async fn an_unreachable_tool_and_a_missing_connector_get_their_fixes() {
    let w = world().await;
    let port = pathops_testkit::fake::refused_port();
    let gone = NewIntegration::builder(
        "gone",
        Provider::Zastava,
        format!("http://127.0.0.1:{port}"),
    )
    .with_auth_ref("ref://acme/zastava/token")
    .build()
    .unwrap();
    w.catalog.create(&w.admin, gone, true).await.unwrap();
    let jenkins = NewIntegration::builder("jenkins", Provider::Jenkins, "https://ci.example.test")
        .build()
        .unwrap();
    w.catalog.create(&w.admin, jenkins, true).await.unwrap();
    let report = w.doctor.run(&w.admin, &Selection::All).await.unwrap();
    assert_eq!(report.summary.failed, 2);
    let by_name = |n: &str| report.integrations.iter().find(|i| i.name == n).unwrap();
    let gone = by_name("gone");
    assert_eq!(gone.reachability, Probe::Failed);
    let unreachable = gone
        .findings
        .iter()
        .find(|f| f.code == "unreachable")
        .expect("network fix");
    assert!(unreachable.api_call.as_deref().unwrap().starts_with("curl"));
    let jenkins = by_name("jenkins");
    assert_eq!(jenkins.failure_code.as_deref(), Some("no_connector"));
    assert_eq!(jenkins.findings[0].code, "no_connector");
    assert!(!report.all_passed());
}
