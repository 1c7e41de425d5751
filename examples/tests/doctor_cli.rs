//! The `doctor` binary as a user runs it: the demo's JSON report and table, the exit codes,
//! `--help`, usage errors, and no secret anywhere in its output.

mod common;

use common::{doctor, sqlite_url, text};
use serde_json::Value;

/// Every secret of the demo carries `SENTINEL`; the fakes' keys and tokens have their own
/// shapes. None may appear in anything the doctor prints.
fn assert_no_secrets(what: &str, output: &str) {
    for secret in [
        "SENTINEL",
        "PRIVATE KEY",
        "glpat-",
        "ghs_",
        "Bearer ",
        "Harbor12345",
        "fake-registry-password",
    ] {
        assert!(
            !output.contains(secret),
            "{what} contains a secret ({secret})"
        );
    }
}

fn integration<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no integration {name}"))
}

fn codes(integration: &Value) -> Vec<&str> {
    integration["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

#[test]
fn the_demo_report_has_the_expected_findings_and_exits_1() {
    let out = doctor(&["--json"]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_no_secrets("the report", &stdout);
    assert_no_secrets("standard error", &stderr);
    assert!(stderr.contains("integrations checked"), "{stderr}");

    let report: Value = serde_json::from_str(&stdout).expect("stdout is the JSON report");
    assert_eq!(report["schema"], "pathops.doctor/v1");
    assert_eq!(report["tenant"], "acme");
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 11, "failed": 12, "skipped": 1, "unreadable": 0})
    );
    assert_eq!(report["integrations"].as_array().unwrap().len(), 24);

    for passing in [
        "gitlab-platform",
        "github-platform",
        "gitea-platform",
        "bitbucket-platform",
        "azure-devops-platform",
        "harbor-prod",
        "ghcr-platform",
        "jenkins-ci",
        "argocd-prod",
        "minio-evidence",
        "zastava-eu",
    ] {
        let i = integration(&report, passing);
        assert_eq!(i["outcome"], "passed", "{passing}: {i}");
        assert!(codes(i).is_empty(), "{passing}: {i}");
    }
    // The SCM round trips carry their delivery ids as evidence.
    for scm in [
        "gitlab-platform",
        "github-platform",
        "gitea-platform",
        "bitbucket-platform",
        "azure-devops-platform",
    ] {
        let webhook = &integration(&report, scm)["webhook"];
        assert_eq!(webhook["outcome"], "passed");
        assert!(webhook["delivery_id"].is_string(), "{scm}: {webhook}");
    }
    assert_eq!(
        integration(&report, "zastava-eu")["ping"]["tool_to_pathops"],
        "passed"
    );

    let expected = [
        ("gitlab-payments", vec!["webhook_token_mismatch"]),
        (
            "gitlab-legacy",
            vec!["hook_disabled", "receiver_unreachable"],
        ),
        ("gitlab-docs", vec!["webhook_missing_scope"]),
        ("harbor-ci", vec!["unauthenticated"]),
        ("harbor-dr", vec!["unreachable"]),
        ("ghcr-mirror", vec!["missing_scope"]),
        ("jenkins-nightly", vec!["unauthenticated"]),
        ("argocd-staging", vec!["unauthenticated"]),
        ("minio-archive", vec!["invalid_config"]),
        ("gitea-fresh", vec!["webhook_unsupported"]),
        ("bitbucket-legacy", vec!["webhook_token_mismatch"]),
        ("azure-devops-legacy", vec!["webhook_tool_unhealthy"]),
    ];
    for (name, want) in expected {
        let i = integration(&report, name);
        assert_eq!(i["outcome"], "failed", "{name}: {i}");
        assert_eq!(codes(i), want, "{name}");
    }
    let fix = &integration(&report, "gitlab-payments")["findings"][0];
    assert!(
        fix["api_call"]
            .as_str()
            .unwrap()
            .starts_with("PUT /api/v4/projects/43/hooks/"),
        "{fix}"
    );
    let skipped = integration(&report, "jenkins-legacy");
    assert_eq!(skipped["outcome"], "skipped");
    assert!(
        skipped["message"]
            .as_str()
            .unwrap()
            .contains("being decommissioned")
    );
}

#[test]
fn the_table_and_the_fixes_are_plain_text_when_piped() {
    let out = doctor(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_no_secrets("the table", &stdout);
    assert_no_secrets("standard error", &text(&out.stderr));
    assert!(!stdout.contains('\x1b'), "colours on a pipe");
    let header = stdout.lines().next().unwrap();
    for column in [
        "INTEGRATION",
        "PROVIDER",
        "REACHABILITY",
        "AUTH",
        "WEBHOOK/PING",
        "LATENCY",
        "STATUS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_owned()
    };
    assert!(row("gitlab-platform").ends_with("passed"));
    assert!(row("gitlab-payments").contains("delivery rejected"));
    assert!(row("gitlab-payments").ends_with("FAILED"));
    assert!(row("jenkins-legacy").ends_with("skipped"));
    assert!(stdout.contains("\nFixes\n"));
    assert!(stdout.contains("[error: webhook_token_mismatch]"));
    assert!(stdout.contains("  run:  PUT /api/v4/projects/43/hooks/"));
    assert!(stdout.ends_with("24 integrations: 11 passed, 12 failed, 1 skipped\n"));
}

#[test]
fn help_documents_every_flag_and_exits_0() {
    let out = doctor(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for flag in [
        "--json",
        "--catalog",
        "--tenant",
        "--listen",
        "--public-url",
        "--secrets-dir",
        "--help",
        "NO_COLOR",
        "EXIT STATUS",
    ] {
        assert!(help.contains(flag), "--help does not document {flag}");
    }
    assert_eq!(doctor(&["-h"]).status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2_and_say_what_was_wrong() {
    for (args, message) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (
            &["--listen"][..],
            "a value is required for '--listen <ADDR>'",
        ),
        (&["--catalog", "sqlite://x.db"][..], "--tenant <ID>"),
        (&["--json", "extra"][..], "unexpected argument 'extra'"),
        // A flag is never taken for the value of the flag before it.
        (
            &["--tenant", "--json"][..],
            "a value is required for '--tenant <ID>'",
        ),
    ] {
        let out = doctor(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(stderr.contains("--help"), "{stderr}");
    }
}

/// A temporary directory for catalog files.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Runs `--catalog url --tenant acme` (plus `extra`) and returns the exit status and stderr.
fn check_catalog(url: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["--catalog", url, "--tenant", "acme"];
    args.extend_from_slice(extra);
    let out = doctor(&args);
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_sqlite_catalog_that_cannot_be_opened_exits_3_and_says_why() {
    let dir = scratch();
    let missing = dir.path().join("missing.db");
    let not_a_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_db,
        "these are not the tables you are looking for\n".repeat(200),
    )
    .unwrap();
    let cases = [
        (
            sqlite_url(&missing),
            vec![],
            format!(
                "no catalog at {}: the file does not exist",
                missing.display()
            ),
        ),
        // The URL's own create mode does not create a catalog either.
        (
            format!("{}?mode=rwc", sqlite_url(&missing)),
            vec![],
            "the file does not exist".to_owned(),
        ),
        (
            sqlite_url(dir.path()),
            vec![],
            format!(
                "{} is a directory, not a database file",
                dir.path().display()
            ),
        ),
        (
            sqlite_url(&not_a_db),
            vec![],
            "file is not a database".to_owned(),
        ),
        (
            sqlite_url(&dir.path().join("no/such/dir/catalog.db")),
            vec!["--init"],
            format!(
                "the directory {} does not exist",
                dir.path().join("no/such/dir").display()
            ),
        ),
    ];
    for (url, extra, cause) in cases {
        let (code, stderr) = check_catalog(&url, &extra);
        assert_eq!(code, Some(3), "{url}: {stderr}");
        assert!(
            stderr.contains("cannot open the catalog: "),
            "{url}: {stderr}"
        );
        assert!(
            stderr.contains(&cause),
            "{url}: wanted {cause:?} in {stderr}"
        );
        assert!(!stderr.contains("sqlite backend failed\n"), "{stderr}");
    }
    assert!(
        !missing.exists(),
        "a catalog file was created without --init"
    );
}

#[tokio::test]
async fn a_database_without_the_pathops_schema_is_refused_and_left_alone() {
    use sqlx::sqlite::SqliteConnectOptions;
    let dir = scratch();
    let path = dir.path().join("other-app.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    let url = sqlite_url(&path);
    let (code, stderr) = tokio::task::spawn_blocking(move || check_catalog(&url, &[]))
        .await
        .unwrap();
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("holds no PathOps catalog"), "{stderr}");
    assert!(stderr.contains("add --init"), "{stderr}");
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        tables,
        [("invoices".to_owned(),)],
        "the doctor created tables"
    );
}

#[test]
fn a_postgres_catalog_that_cannot_be_opened_exits_3_and_says_why() {
    let Some(base) = pathops_testkit::services::service_url("PATHOPS_TEST_POSTGRES_URL") else {
        return;
    };
    let base = url::Url::parse(&base).expect("PATHOPS_TEST_POSTGRES_URL is a URL");
    let with = |f: &dyn Fn(&mut url::Url)| {
        let mut u = base.clone();
        f(&mut u);
        u.to_string()
    };
    let cases = [
        (
            with(&|u| u.set_path("/pathops_no_such_database")),
            "database \"pathops_no_such_database\" does not exist",
        ),
        (
            with(&|u| u.set_username("pathops_no_such_role").unwrap()),
            "role \"pathops_no_such_role\" does not exist",
        ),
        (
            with(&|u| {
                u.set_port(Some(pathops_testkit::fake::refused_port()))
                    .unwrap()
            }),
            "Connection refused",
        ),
    ];
    for (url, cause) in cases {
        let (code, stderr) = check_catalog(&url, &[]);
        assert_eq!(code, Some(3), "{url}: {stderr}");
        assert!(
            stderr.contains(cause),
            "{url}: wanted {cause:?} in {stderr}"
        );
    }
}

#[test]
fn an_empty_tenant_is_not_a_green_run_it_checked_nothing() {
    let dir = scratch();
    let path = dir.path().join("catalog.db");
    let url = sqlite_url(&path);
    // --init creates the catalog; the tenant has no integrations (a typo, say).
    let out = doctor(&["--catalog", &url, "--tenant", "acme", "--init", "--json"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("nothing was checked: tenant acme has no integrations"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "pathops.doctor/v1");
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 0, "failed": 0, "skipped": 0, "unreadable": 0})
    );
    // Now the catalog exists: opening it again needs no --init, and says the same.
    let out = doctor(&["--catalog", &url, "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("0 integrations: 0 passed, 0 failed, 0 skipped\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_row_and_a_missing_secret_are_reported_and_the_rest_is_checked() {
    let tool = pathops_testkit::fake::ping_tool::FakePingTool::start("agent-SENTINEL-x")
        .await
        .unwrap();
    let dir = scratch();
    let path = dir.path().join("catalog.db");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let integrations = [
        ("agent-ok".to_owned(), "token"),
        ("agent-nosecret".to_owned(), "missing"),
        ("agent-damaged".to_owned(), "token"),
    ];
    let pool = common::seed_ping_catalog(&path, &tool.url(), &integrations).await;
    sqlx::query("UPDATE integrations SET configuration = '[broken' WHERE name = 'agent-damaged'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let url = sqlite_url(&path);
    let secrets_dir = secrets.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        common::command(&[
            "--catalog",
            &url,
            "--tenant",
            "acme",
            "--secrets-dir",
            &secrets_dir,
        ])
        .env("PATHOPS_SECRET_ACME__ZASTAVA__TOKEN", "agent-SENTINEL-x")
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert_no_secrets("the table", &stdout);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_owned()
    };
    assert!(row("agent-ok").ends_with("passed"), "{stdout}");
    assert!(row("agent-damaged").ends_with("UNREADABLE"), "{stdout}");
    assert!(stdout.contains("[error: unreadable]"), "{stdout}");
    assert!(
        stdout.contains("integrations.configuration is invalid"),
        "{stdout}"
    );
    // Where the missing secret was looked for: the variable's name and the file's path.
    let looked = format!(
        "secret not found: ref://acme/zastava/missing (looked in environment variable \
         PATHOPS_SECRET_ACME__ZASTAVA__MISSING, file {})",
        secrets.join("acme/zastava/missing").display()
    );
    assert!(stdout.contains(&looked), "{stdout}");
    assert!(
        stdout.ends_with("3 integrations: 1 passed, 1 failed, 0 skipped, 1 unreadable\n"),
        "{stdout}"
    );
}
