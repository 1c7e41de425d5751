//! The `doctor` binary as a user runs it: the demo's JSON report and table, the exit codes,
//! `--help`, usage errors, and no secret anywhere in its output.

use std::process::{Command, Output};

use serde_json::Value;

fn doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doctor"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the doctor binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

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
        serde_json::json!({"passed": 4, "failed": 5, "skipped": 1})
    );
    assert_eq!(report["integrations"].as_array().unwrap().len(), 10);

    for passing in [
        "gitlab-platform",
        "github-platform",
        "harbor-prod",
        "zastava-eu",
    ] {
        let i = integration(&report, passing);
        assert_eq!(i["outcome"], "passed", "{passing}: {i}");
        assert!(codes(i).is_empty(), "{passing}: {i}");
    }
    // The SCM round trips carry their delivery ids as evidence.
    for scm in ["gitlab-platform", "github-platform"] {
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
    assert!(stdout.ends_with("10 integrations: 4 passed, 5 failed, 1 skipped\n"));
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
        (&["--bogus"][..], "unknown flag --bogus"),
        (&["--listen"][..], "--listen needs a value"),
        (
            &["--catalog", "sqlite://x.db"][..],
            "--catalog needs --tenant",
        ),
        (&["--json", "extra"][..], "unexpected argument extra"),
    ] {
        let out = doctor(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(stderr.contains("--help"), "{stderr}");
    }
}

#[test]
fn a_catalog_that_cannot_be_opened_exits_3() {
    let out = doctor(&[
        "--catalog",
        "sqlite:///nonexistent-dir/pathops.db",
        "--tenant",
        "acme",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot open the catalog"), "{stderr}");
}

#[test]
fn a_real_catalog_is_checked_for_its_tenant() {
    let dir = std::env::temp_dir().join(format!("pathops-doctor-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("catalog.db").display());
    let out = doctor(&["--catalog", &url, "--tenant", "acme", "--json"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema"], "pathops.doctor/v1");
    assert_eq!(report["tenant"], "acme");
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 0, "failed": 0, "skipped": 0})
    );
}
