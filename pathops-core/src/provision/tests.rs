//! Manifest parsing, secret refusal, planning and promotion, without a catalog.

use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::integration::{Integration, NewIntegration};
use crate::secret::AuthRefPolicy;
use crate::{IntegrationId, IntegrationStatus, Provider};

const MANIFEST: &str = r#"
api_version: pathops.catalog/v1
integrations:
  - name: Harbor
    provider: harbor
    base_url: https://harbor.staging.example
    auth_ref: ref://acme/harbor/robot
    environment: staging
    tags: [team:platform]
  - name: GitLab
    provider: gitlab
    base_url: https://gitlab.example.com
    auth_ref: ref://acme/gitlab/ci-token
    configuration:
      project: platform/api
      hook_id: 7
      webhook_secret_ref: ref://acme/gitlab/hook
    owner: team-platform
    description: Source of truth
  - name: Jenkins
    provider: jenkins
    base_url: https://ci.example.com
    paused: true
    pause_reason: CHG-7 migration
"#;

fn manifest() -> Manifest {
    Manifest::parse(MANIFEST).expect("valid manifest")
}

fn options() -> PlanOptions {
    PlanOptions::new("acme".parse().unwrap())
}

/// The manifest's integration `name` as it would be stored, at `version`.
fn stored(m: &Manifest, name: &str, version: u64) -> Integration {
    let spec = m.integrations.iter().find(|s| s.name == name).unwrap();
    let mut i = Integration::new_draft(
        IntegrationId::new(),
        "acme".parse().unwrap(),
        spec.to_new_integration().unwrap(),
        "alice".parse().unwrap(),
        datetime!(2026-12-01 00:00 UTC),
    );
    i.status = if spec.paused {
        IntegrationStatus::Paused
    } else {
        IntegrationStatus::Active
    };
    i.version = version;
    i
}

#[test]
fn yaml_and_json_read_the_same_manifest_and_round_trip() {
    let m = manifest();
    assert_eq!(m.integrations.len(), 3);
    assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
    assert_eq!(Manifest::parse(&m.to_yaml()).unwrap(), m);
    assert_eq!(m.integrations[2].pause_reason(), Some("CHG-7 migration"));
}

#[test]
fn bad_manifests_name_the_field() {
    let err = |text: &str| Manifest::parse(text).unwrap_err();
    assert_eq!(
        err("api_version: pathops.catalog/v2\n").problem,
        ManifestProblem::UnsupportedVersion
    );
    assert_eq!(err("integrations: []\n").path, "api_version");
    assert!(matches!(
        err("{ not yaml").problem,
        ManifestProblem::Syntax(_)
    ));
    let entry =
        |body: &str| format!("api_version: pathops.catalog/v1\nintegrations:\n  - {{ {body} }}\n");
    let e = err(&entry(
        "name: a, provider: harbor, base_url: https://h.example, colour: blue",
    ));
    assert_eq!(e.path, "integrations[0]");
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    let e = err(&entry(
        "name: a, provider: harbor, base_url: ftp://h.example",
    ));
    assert_eq!(e.path, "integrations[0].base_url");
    let e = err(&entry(
        "name: a, provider: harbor, base_url: https://h.example, environment: PROD",
    ));
    assert_eq!(e.path, "integrations[0].environment");
    let dup = format!(
        "{}  - {{ name: a, provider: harbor, base_url: https://h.example }}\n",
        entry("name: a, provider: harbor, base_url: https://h.example")
    );
    assert_eq!(err(&dup).path, "integrations[1].name");
    assert_eq!(err(&dup).problem, ManifestProblem::DuplicateName);
    let e = err(&entry(
        "name: a, provider: harbor, base_url: https://h.example, tags: hunter2",
    ));
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn secrets_are_refused_by_field_and_never_echoed() {
    let cases = [
        (
            r#"auth_ref: "glpat-0123456789abcdefghij""#,
            "integrations[0].auth_ref",
        ),
        (
            r#"configuration: { robot_password: "hunter2-sentinel" }"#,
            "integrations[0].configuration.robot_password",
        ),
        (
            r#"configuration: { webhook_secret: "hunter2-sentinel" }"#,
            "integrations[0].configuration.webhook_secret",
        ),
        (
            r#"configuration: { webhook_secret_ref: "hunter2-sentinel" }"#,
            "integrations[0].configuration.webhook_secret_ref",
        ),
        (r#"token: "hunter2-sentinel""#, "integrations[0].token"),
        (
            r#"configuration: { tls: { client_key: "-----BEGIN PRIVATE KEY-----hunter2-sentinel" } }"#,
            "integrations[0].configuration.tls.client_key",
        ),
    ];
    for (field, path) in cases {
        let text = format!(
            "api_version: pathops.catalog/v1\nintegrations:\n  - {{ name: a, provider: harbor, base_url: https://h.example, {field} }}\n"
        );
        let e = Manifest::parse(&text).unwrap_err();
        assert_eq!(e.path, path, "{field}");
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(
                !shown.contains("hunter2") && !shown.contains("glpat-"),
                "{shown}"
            );
        }
    }
    // Built in code, the same rule holds.
    let mut m = manifest();
    m.integrations[0]
        .configuration
        .insert("api_key".into(), json!("x"));
    assert_eq!(
        m.validate().unwrap_err().path,
        "integrations[0].configuration.api_key"
    );
}

#[test]
fn an_empty_catalog_plans_creates_in_name_order() {
    let p = plan(&[], &manifest(), &options()).unwrap();
    let names: Vec<_> = p.steps.iter().map(|s| (s.kind, s.name.as_str())).collect();
    assert_eq!(
        names,
        [
            (StepKind::Create, "GitLab"),
            (StepKind::Create, "Harbor"),
            (StepKind::Create, "Jenkins"),
        ]
    );
    assert!(!p.is_empty());
    assert_eq!(
        p.summary(),
        "3 to create, 0 to update, 0 to delete, 0 to pause, 0 to resume, 0 unchanged"
    );
}

#[test]
fn the_same_state_plans_nothing() {
    let m = manifest();
    let current: Vec<_> = ["GitLab", "Harbor", "Jenkins"]
        .iter()
        .map(|n| stored(&m, n, 4))
        .collect();
    let p = plan(&current, &m, &options()).unwrap();
    assert!(p.is_empty(), "{}", p.render());
    assert!(p.steps.iter().all(|s| s.kind == StepKind::Unchanged));
}

#[test]
fn updates_carry_a_field_diff_and_their_version() {
    let m = manifest();
    let mut harbor = stored(&m, "Harbor", 3);
    harbor.base_url = crate::BaseUrl::parse("https://old.example").unwrap();
    harbor.tags = crate::Tags::new(["old"]).unwrap();
    let p = plan(&[harbor.clone()], &m, &options()).unwrap();
    let step = p.steps.iter().find(|s| s.name == "Harbor").unwrap();
    assert_eq!(step.kind, StepKind::Update);
    assert_eq!(step.id, Some(harbor.id));
    assert_eq!(step.version, Some(3));
    let fields: Vec<_> = step.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["base_url", "tags"]);
    assert_eq!(step.changes[0].old, json!("https://old.example"));
    assert_eq!(step.changes[0].new, json!("https://harbor.staging.example"));
    let patch = step.patch.as_ref().unwrap();
    assert!(patch.base_url.is_some() && patch.tags.is_some());
    assert!(patch.auth_ref.is_none(), "only changed fields are patched");
    assert!(p.render().contains(
        "~ update   Harbor (v3)\n    base_url: \"https://old.example\" -> \"https://harbor.staging.example\"\n"
    ), "{}", p.render());
}

#[test]
fn pause_and_resume_follow_the_manifest_after_an_update() {
    let m = manifest();
    let mut jenkins = stored(&m, "Jenkins", 5);
    jenkins.status = IntegrationStatus::Active;
    jenkins.description = Some(crate::Description::new("stale").unwrap());
    let mut gitlab = stored(&m, "GitLab", 2);
    gitlab.status = IntegrationStatus::Paused;
    let p = plan(&[jenkins, gitlab], &m, &options()).unwrap();
    let kinds: Vec<_> = p
        .steps
        .iter()
        .map(|s| (s.kind, s.name.as_str(), s.version))
        .collect();
    assert_eq!(
        kinds,
        [
            (StepKind::Resume, "GitLab", Some(2)),
            (StepKind::Create, "Harbor", None),
            (StepKind::Update, "Jenkins", Some(5)),
            (StepKind::Pause, "Jenkins", Some(6)),
        ]
    );
    assert_eq!(p.steps[3].reason.as_deref(), Some("CHG-7 migration"));
}

#[test]
fn prune_deletes_only_when_asked() {
    let m = manifest();
    let extra = {
        let input = NewIntegration::builder("Argo", Provider::ArgoCd, "https://argo.example")
            .build()
            .unwrap();
        let mut i = Integration::new_draft(
            IntegrationId::new(),
            "acme".parse().unwrap(),
            input,
            "alice".parse().unwrap(),
            datetime!(2026-12-01 00:00 UTC),
        );
        i.version = 9;
        i
    };
    let keep = plan(std::slice::from_ref(&extra), &m, &options()).unwrap();
    assert!(keep.steps.iter().all(|s| s.name != "Argo"));
    let pruned = plan(&[extra], &m, &options().with_prune(true)).unwrap();
    let first = &pruned.steps[0];
    assert_eq!(
        (first.kind, first.name.as_str(), first.version),
        (StepKind::Delete, "Argo", Some(9))
    );
}

#[test]
fn a_type_change_is_refused_at_plan_time() {
    let mut m = manifest();
    let current = stored(&m, "Harbor", 1);
    m.integrations[0].provider = Provider::GitLab;
    let e = plan(&[current], &m, &options()).unwrap_err();
    assert_eq!(e.path, "integrations[0].provider");
    assert_eq!(e.problem, ManifestProblem::TypeChange);
}

#[test]
fn promotion_rewrites_reference_prefixes_and_sets_the_environment() {
    let mut m = manifest();
    let changed = m.map_refs("ref://acme/", "ref://globex/").unwrap();
    assert_eq!(changed, 3, "two auth refs and the webhook secret ref");
    assert_eq!(
        m.integrations[1].configuration["webhook_secret_ref"],
        json!("ref://globex/gitlab/hook")
    );
    m.set("environment", "production").unwrap();
    assert!(
        m.integrations
            .iter()
            .all(|s| s.environment.as_deref() == Some("production"))
    );
    assert!(m.set("base_url", "https://x").is_err());
    assert_eq!(
        m.map_refs("ref://globex/", "not a ref/").unwrap_err().path,
        "integrations[0].auth_ref"
    );
    // The target tenant's policy decides: globex may use its own references only.
    let globex =
        PlanOptions::new("globex".parse().unwrap()).with_auth_ref_policy(AuthRefPolicy::default());
    let mut m = manifest();
    assert_eq!(
        plan(&[], &m, &globex).unwrap_err().path,
        "integrations[0].auth_ref"
    );
    m.map_refs("ref://acme/", "ref://globex/").unwrap();
    assert!(plan(&[], &m, &globex).is_ok());
}

#[test]
fn export_writes_what_plans_as_unchanged() {
    let m = manifest();
    let current: Vec<_> = ["Jenkins", "GitLab", "Harbor"]
        .iter()
        .map(|n| stored(&m, n, 1))
        .collect();
    let exported = Manifest::from_integrations(&current);
    let names: Vec<_> = exported
        .integrations
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["GitLab", "Harbor", "Jenkins"]);
    assert!(plan(&current, &exported, &options()).unwrap().is_empty());
    let reparsed = Manifest::parse(&exported.to_yaml()).unwrap();
    assert_eq!(reparsed, exported);
}

#[test]
fn a_plan_serializes_and_reads_back() {
    let p = plan(&[], &manifest(), &options()).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"schema\":\"pathops.plan/v1\""));
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), p);
}
