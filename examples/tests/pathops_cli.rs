//! The `pathops` CLI as an operator runs it (assert_cmd + predicates), on a real SQLite file
//! and, when `PATHOPS_TEST_POSTGRES_URL` is set, PostgreSQL (a schema of its own per test).

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

/// `pathops` in `dir`, with no PathOps setting from the environment.
fn pathops(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pathops"));
    cmd.current_dir(dir)
        .env_remove("PATHOPS_CATALOG_URL")
        .env_remove("PATHOPS_TENANT")
        .env_remove("PATHOPS_ACTOR")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("pathops runs");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Registers the two integrations of tenant `acme` the tests promote.
fn add_acme(dir: &Path, catalog: &str) {
    pathops(dir)
        .args([
            "--catalog",
            catalog,
            "--tenant",
            "acme",
            "integrations",
            "add",
        ])
        .args([
            "gitlab-main",
            "--provider",
            "gitlab",
            "--base-url",
            "http://127.0.0.1:9",
        ])
        .args(["--auth-ref", "ref://acme/gitlab/ci-token"])
        .args([
            "--configuration",
            r#"{"project":"platform/api","webhook_secret_ref":"ref://acme/gitlab/hook"}"#,
        ])
        .args(["--environment", "staging", "--tag", "team:platform"])
        .assert()
        .success()
        .stdout(contains(
            "created gitlab-main (gitlab, pending_verification, version 1)",
        ));
    pathops(dir)
        .args([
            "--catalog",
            catalog,
            "--tenant",
            "acme",
            "i",
            "add",
            "harbor-ci",
        ])
        .args(["--provider", "harbor", "--base-url", "http://127.0.0.1:9"])
        .args(["--auth-ref", "ref://acme/harbor/robot"])
        .args(["--configuration", r#"{"username":"robot$ci"}"#])
        .args(["--environment", "staging"])
        .assert()
        .success();
}

const PLAN: &str = "\
+ create   gitlab-main (gitlab)
+ create   harbor-ci (harbor)
2 to create, 0 to update, 0 to delete, 0 to pause, 0 to resume, 0 unchanged
";

/// Export from acme, map the references and the environment, import into globex: the plan
/// printed exactly, applied, then a no-op; a stale saved plan refuses to apply.
fn promote(catalog: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pathops(d)
        .args(["--catalog", catalog, "migrate"])
        .assert()
        .success();
    add_acme(d, catalog);
    let manifest = d.join("staging.yaml");
    pathops(d)
        .args(["--catalog", catalog, "--tenant", "acme", "export"])
        .args([
            "--map-ref",
            "ref://acme/=ref://globex/",
            "--set",
            "environment=production",
        ])
        .args(["--to", manifest.to_str().unwrap()])
        .assert()
        .success();
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.starts_with("api_version: pathops.catalog/v1\n"),
        "{text}"
    );
    assert!(text.contains("ref://globex/gitlab/hook"), "{text}");
    assert!(!text.contains("ref://acme/"), "{text}");

    let globex = ["--catalog", catalog, "--tenant", "globex"];
    let m = manifest.to_str().unwrap();
    pathops(d)
        .args(globex)
        .args(["import", m, "--plan", "--detailed-exitcode"])
        .assert()
        .code(1)
        .stdout(PLAN);
    pathops(d)
        .args(globex)
        .args(["import", m, "--apply", "--ticket", "CHG-42"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with(
            "applied 2 changes (0 unchanged)\n",
        ));
    // Applied: globex has both, in production, with globex's references.
    let listed: serde_json::Value = serde_json::from_str(&stdout(pathops(d).args(globex).args([
        "-o",
        "json",
        "integrations",
        "list",
    ])))
    .expect("--output json parses");
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap(),
                i["environment"].as_str().unwrap(),
                i["auth_ref"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("gitlab-main", "production", "ref://globex/gitlab/ci-token"),
            ("harbor-ci", "production", "ref://globex/harbor/robot"),
        ]
    );
    // The audit entries carry the ticket.
    pathops(d)
        .args(globex)
        .args(["audit", "harbor-ci"])
        .assert()
        .success()
        .stdout(contains("CHG-42").and(contains("created")));
    // A second apply is a no-op, and the plan says so.
    pathops(d)
        .args(globex)
        .args(["import", m, "--plan", "--detailed-exitcode"])
        .assert()
        .success()
        .stdout("0 to create, 0 to update, 0 to delete, 0 to pause, 0 to resume, 2 unchanged\n");
    pathops(d)
        .args(globex)
        .args(["import", m, "--apply"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with(
            "applied 0 changes (2 unchanged)\n",
        ));

    // A saved plan goes stale when someone edits an integration it changes.
    let edited = text.replace("team:platform", "team:edited");
    std::fs::write(&manifest, edited).unwrap();
    let saved = d.join("plan.json");
    pathops(d)
        .args(globex)
        .args([
            "import",
            m,
            "--plan",
            "--save-plan",
            saved.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(contains(
            "~ update   gitlab-main (v1)\n    tags: [\"team:platform\"] -> [\"team:edited\"]\n",
        ));
    pathops(d)
        .args(globex)
        .args([
            "i",
            "update",
            "gitlab-main",
            "--description",
            "edited by hand",
        ])
        .assert()
        .success();
    pathops(d)
        .args(globex)
        .args(["import", "--apply", "--from-plan", saved.to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(contains("the plan is stale: plan again"));
    let after: serde_json::Value = serde_json::from_str(&stdout(pathops(d).args(globex).args([
        "-o",
        "json",
        "i",
        "get",
        "gitlab-main",
    ])))
    .unwrap();
    assert_eq!(after["description"], "edited by hand", "not overwritten");
    assert_eq!(after["tags"], serde_json::json!(["team:platform"]));
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[test]
fn export_map_import_round_trip_between_tenants_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    promote(&sqlite_url(&dir.path().join("catalog.db")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_map_import_round_trip_between_tenants_on_postgres() {
    use sqlx::Connection as _;
    let Some(url) = pathops_testkit::services::service_url("PATHOPS_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = format!("pathops_cli_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let catalog = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let result = tokio::task::spawn_blocking(move || promote(&catalog)).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
    result.unwrap();
}

#[test]
fn a_new_user_sets_up_and_manages_an_integration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The embedded default catalog, tenant from pathops.toml.
    std::fs::write(
        d.join("pathops.toml"),
        "tenant = \"acme\"\nactor = \"alice\"\n",
    )
    .unwrap();
    pathops(d)
        .args(["integrations", "list"])
        .assert()
        .code(3)
        .stderr(contains("no catalog at ./pathops.db").and(contains("pathops migrate")));
    pathops(d)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("sqlite://./pathops.db"));
    assert!(d.join("pathops.db").exists());
    pathops(d)
        .args([
            "i",
            "add",
            "harbor",
            "--provider",
            "harbor",
            "--base-url",
            "http://127.0.0.1:9",
        ])
        .args([
            "--configuration",
            r#"{"username":"robot$ci"}"#,
            "--auth-ref",
            "ref://acme/harbor/robot",
        ])
        .assert()
        .success();
    pathops(d).args(["i", "list"]).assert().success().stdout(
        contains("harbor")
            .and(contains("pending_verification"))
            .and(contains("1 integration\n")),
    );
    let got: serde_json::Value = serde_json::from_str(&stdout(
        pathops(d).args(["i", "get", "harbor", "-o", "json"]),
    ))
    .unwrap();
    assert_eq!(got["created_by"], "alice");
    let yaml = stdout(pathops(d).args(["i", "get", "harbor", "-o", "yaml"]));
    assert!(yaml.contains("name: harbor\n"), "{yaml}");
    pathops(d)
        .args(["i", "update", "harbor", "--tag", "team:a", "--tag", "prod"])
        .assert()
        .success()
        .stdout(contains("updated harbor"));
    // The test reaches nothing on 127.0.0.1:9: a finding, exit 1, recorded as evidence.
    pathops(d)
        .args(["i", "test", "harbor"])
        .assert()
        .code(1)
        .stdout(contains("harbor failed"));
    pathops(d)
        .args(["health", "harbor"])
        .assert()
        .success()
        .stdout(
            contains("latest: failed")
                .and(contains("24 h"))
                .and(contains("30 d")),
        );
    pathops(d)
        .args(["i", "activate", "harbor"])
        .assert()
        .code(3)
        .stderr(contains("cannot activate"));
    pathops(d)
        .args([
            "i",
            "pause",
            "harbor",
            "--reason",
            "maintenance",
            "--ticket",
            "CHG-7",
        ])
        .assert()
        .success()
        .stdout(contains("paused harbor"));
    pathops(d)
        .args(["i", "resume", "harbor"])
        .assert()
        .code(1)
        .stdout(contains("harbor failed"));
    pathops(d)
        .args(["audit", "harbor"])
        .assert()
        .success()
        .stdout(
            contains("CHG-7")
                .and(contains("paused"))
                .and(contains("alice")),
        );
    pathops(d)
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout(contains("audit chain of acme verified"));
    pathops(d)
        .args(["plugins", "discover"])
        .assert()
        .success()
        .stdout(contains("harbor"));
    pathops(d)
        .args(["plugins", "list", "-o", "json"])
        .assert()
        .success();
    // The repository's plugins directory: the Python example is found, checked, ready.
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins");
    pathops(d)
        .args(["plugins", "discover", "--dir", examples])
        .assert()
        .success()
        .stdout(
            contains("example.harbor-lite")
                .and(contains("harbor-lite"))
                .and(contains("ready")),
        );
    pathops(d)
        .args(["plugins", "list", "-o", "json"])
        .assert()
        .success()
        .stdout(contains("\"path\"").and(contains("harbor_lite.py")));
    pathops(d)
        .args(["i", "delete", "harbor"])
        .assert()
        .success()
        .stdout("deleted harbor\n");
    pathops(d)
        .args(["i", "get", "harbor"])
        .assert()
        .code(3)
        .stderr(contains("no integration named `harbor` in tenant acme"));
    // The doctor over this catalog: nothing left to check.
    pathops(d).args(["doctor"]).assert().code(4);
}

#[test]
fn secrets_in_a_manifest_or_an_add_are_refused_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let catalog = sqlite_url(&d.join("c.db"));
    pathops(d)
        .args(["--catalog", &catalog, "migrate"])
        .assert()
        .success();
    let manifest = d.join("m.json");
    std::fs::write(
        &manifest,
        r#"{"api_version":"pathops.catalog/v1","integrations":[
            {"name":"h","provider":"harbor","base_url":"http://127.0.0.1:9",
             "configuration":{"username":"r","robot_token":"hunter2-SENTINEL"}}]}"#,
    )
    .unwrap();
    for mode in ["--plan", "--apply"] {
        pathops(d)
            .args(["--catalog", &catalog, "--tenant", "acme", "import"])
            .args([manifest.to_str().unwrap(), mode])
            .assert()
            .code(3)
            .stderr(contains(
                "integrations[0].configuration.robot_token: looks like a secret",
            ))
            .stderr(contains("SENTINEL").not())
            .stdout(contains("SENTINEL").not());
    }
    pathops(d)
        .args(["--catalog", &catalog, "--tenant", "acme", "i", "add", "x"])
        .args(["--provider", "harbor", "--base-url", "http://127.0.0.1:9"])
        .args(["--auth-ref", "glpat-SENTINEL0123456789"])
        .assert()
        .code(3)
        .stderr(contains("auth_ref: not a reference").and(contains("SENTINEL").not()));
    pathops(d)
        .args([
            "--catalog",
            &catalog,
            "--tenant",
            "acme",
            "i",
            "list",
            "-o",
            "json",
        ])
        .assert()
        .success()
        .stdout("[]\n");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["bogus"][..],
        &["integrations", "add", "x"][..],
        &["import", "m.yaml"][..],
        &["import", "m.yaml", "--plan", "--apply"][..],
        &["-o", "xml", "integrations", "list"][..],
        &["--catalog", "mysql://db", "migrate"][..],
        &["--tenant", "--output", "integrations", "list"][..],
        &["export", "--map-ref", "no-equals-sign"][..],
        &["completions", "tcsh"][..],
    ] {
        pathops(d)
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(contains("--help").or(contains("Usage")));
    }
    // No tenant anywhere: a usage error too, saying where a tenant comes from.
    pathops(d)
        .args(["integrations", "list"])
        .assert()
        .code(2)
        .stderr(contains("no tenant: pass --tenant, set PATHOPS_TENANT"));
    pathops(d)
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("EXIT STATUS"));
}

#[test]
fn catalog_and_tenant_come_from_flag_then_environment_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = sqlite_url(&d.join("a.db"));
    let b = sqlite_url(&d.join("b.db"));
    std::fs::write(
        d.join("pathops.toml"),
        format!("catalog = \"{a}\"\ntenant = \"acme\"\n"),
    )
    .unwrap();
    pathops(d)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("a.db"));
    pathops(d)
        .env("PATHOPS_CATALOG_URL", &b)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("b.db"));
    pathops(d)
        .env("PATHOPS_CATALOG_URL", &b)
        .args(["--catalog", &a, "migrate"])
        .assert()
        .success()
        .stdout(contains("a.db"));
    // sqlite: and sqlite::memory: are store URLs too.
    pathops(d)
        .args(["--catalog", "sqlite::memory:", "migrate"])
        .assert()
        .success();
    pathops(d)
        .env("PATHOPS_TENANT", "globex")
        .args(["i", "list", "-o", "json"])
        .assert()
        .success()
        .stdout("[]\n");
    std::fs::write(
        d.join("pathops.toml"),
        "tenant = \"acme\"\ncolour = \"red\"\n",
    )
    .unwrap();
    pathops(d)
        .args(["i", "list"])
        .assert()
        .code(2)
        .stderr(contains("pathops.toml").and(contains("colour")));
}

#[test]
fn colour_follows_no_color_clicolor_and_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let catalog = sqlite_url(&d.join("c.db"));
    pathops(d)
        .args(["--catalog", &catalog, "migrate"])
        .assert()
        .success();
    add_acme(d, &catalog);
    let list = |envs: &[(&str, &str)]| {
        let mut cmd = pathops(d);
        cmd.args(["--catalog", &catalog, "--tenant", "acme", "i", "list"]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        stdout(&mut cmd)
    };
    let esc = "\u{1b}[";
    assert!(!list(&[]).contains(esc), "a pipe is never coloured");
    let forced = list(&[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.contains(esc),
        "CLICOLOR_FORCE colours a pipe: {forced}"
    );
    assert!(!list(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains(esc));
    assert!(list(&[]).contains("gitlab-main"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_pathops()"),
        ("zsh", "#compdef pathops"),
        ("fish", "complete -c pathops"),
    ] {
        pathops(dir.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains(marker).and(contains("integrations")));
    }
    // A reader that stops early (`| head -1`) is no failure.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pathops"))
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_doctor_demo_runs_under_pathops_with_the_doctor_binary_s_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = pathops(dir.path())
        .args(["doctor", "--demo", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the demo has findings");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["schema"], "pathops.doctor/v1");
    assert!(report["summary"]["failed"].as_u64().unwrap() > 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("integrations checked"), "{stderr}");
    pathops(dir.path())
        .args(["-o", "yaml", "doctor", "--demo"])
        .assert()
        .code(1)
        .stdout(contains("schema: pathops.doctor/v1\n"));
}

#[test]
fn serve_runs_the_serve_example_with_the_selected_catalog() {
    let dir = tempfile::tempdir().unwrap();
    pathops(dir.path())
        .args(["serve", "--help"])
        .assert()
        .success()
        .stdout(contains("--tokens").and(contains("/api/v1/integrations")));
    // serve's own usage error (no --tokens) comes back as its exit status.
    pathops(dir.path())
        .args([
            "--catalog",
            "sqlite::memory:",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .assert()
        .code(2)
        .stderr(contains("--tokens"));
}

/// `authref://vault/…` references resolve through a real Vault-compatible server (OpenBao in
/// CI) when `VAULT_ADDR` and `VAULT_TOKEN` are set, under the tenant's own prefix only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_references_resolve_through_openbao() {
    use pathops_testkit::fake::harbor::FakeHarbor;
    let Some(vault) = pathops_testkit::services::service_url("PATHOPS_TEST_VAULT_URL") else {
        return;
    };
    let token = std::env::var("PATHOPS_TEST_VAULT_TOKEN").expect("PATHOPS_TEST_VAULT_TOKEN");
    let harbor = FakeHarbor::start_with_defaults().await;
    let path = format!("tenants/acme/harbor-{}", uuid::Uuid::new_v4());
    let written = reqwest::Client::new()
        .post(format!("{vault}/v1/secret/data/{path}"))
        .header("X-Vault-Token", &token)
        .json(&serde_json::json!({"data": {"robot": FakeHarbor::ROBOT_SECRET}}))
        .send()
        .await
        .unwrap();
    assert!(written.status().is_success(), "{}", written.status());

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let url = harbor.url();
    let reference = format!("authref://vault/secret/{path}#robot");
    let outcome = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str], vault_env: bool| {
            let mut cmd = pathops(&d);
            cmd.args(["--tenant", "acme", "--actor", "alice"])
                .args(args);
            if vault_env {
                cmd.env("VAULT_ADDR", &vault).env("VAULT_TOKEN", &token);
            } else {
                cmd.env_remove("VAULT_ADDR").env_remove("VAULT_TOKEN");
            }
            cmd.assert()
        };
        run(&["migrate"], false).success();
        run(
            &[
                "i",
                "add",
                "registry",
                "--provider",
                "harbor",
                "--base-url",
                &url,
                "--auth-ref",
                &reference,
                "--configuration",
                &format!(r#"{{"username":"{}"}}"#, FakeHarbor::ROBOT),
            ],
            true,
        )
        .success();
        // Another tenant's Vault path is refused before anything is stored or read.
        run(
            &[
                "i",
                "add",
                "stolen",
                "--provider",
                "harbor",
                "--base-url",
                &url,
                "--auth-ref",
                "authref://vault/secret/tenants/globex/harbor#robot",
                "--configuration",
                r#"{"username":"robot$ci"}"#,
            ],
            true,
        )
        .failure()
        .stderr(contains("auth_ref"));
        // Without the Vault settings the reference cannot resolve: a finding, exit 1.
        run(&["i", "test", "registry"], false)
            .code(1)
            .stdout(contains("registry failed"));
        run(&["i", "test", "registry"], true)
            .success()
            .stdout(contains("registry ok"));
    })
    .await;
    outcome.unwrap();
    let basic = harbor
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .count();
    assert!(
        basic > 0,
        "the Vault secret reached Harbor as Basic credentials"
    );
}
