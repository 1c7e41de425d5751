//! The doctor as a person runs it: on a terminal, where the progress line is redrawn while
//! the checks run. Each run must give the same answer as on a pipe, in seconds.

mod common;

use std::time::Duration;

use common::on_terminal;
use pathops_testkit::fake::ping_tool::FakePingTool;

/// Far above a healthy run (well under a second), far below sqlx's 30 s pool timeout that a
/// starved catalog used to wait for.
const RUN_BOUND: Duration = Duration::from_secs(20);

#[test]
fn the_demo_gives_the_same_answer_on_a_terminal_ten_times_in_a_row() {
    for run in 1..=10 {
        let out = on_terminal(&[], &[]);
        assert_eq!(out.code, Some(1), "run {run}:\n{}", out.screen);
        assert!(
            out.screen
                .contains("\n24 integrations: 11 passed, 12 failed, 1 skipped\n"),
            "run {run}:\n{}",
            out.screen
        );
        assert!(
            out.elapsed < RUN_BOUND,
            "run {run} took {:?}:\n{}",
            out.elapsed,
            out.screen
        );
    }
}

const SECRET: &str = "agent-SENTINEL-terminal-5e1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifty_integration_sqlite_catalog_gives_the_same_answer_on_a_terminal() {
    let tool = FakePingTool::start(SECRET).await.expect("the ping tool");
    // Slow enough that checks overlap and hold the catalog while the line is redrawn.
    tool.set_latency(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(secrets.join("acme/zastava")).unwrap();
    std::fs::write(secrets.join("acme/zastava/file-token"), SECRET).unwrap();
    // Half resolve from the environment, half from --secrets-dir.
    let integrations: Vec<(String, &str)> = (0..50)
        .map(|n| {
            let key = if n % 2 == 0 {
                "env-token"
            } else {
                "file-token"
            };
            (format!("agent-{n:02}"), key)
        })
        .collect();
    common::seed_ping_catalog(&path, &tool.url(), &integrations)
        .await
        .close()
        .await;
    let url = common::sqlite_url(&path);
    let secrets_dir = secrets.display().to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut runs = Vec::new();
        for _ in 0..10 {
            runs.push(on_terminal(
                &[
                    "--catalog",
                    &url,
                    "--tenant",
                    "acme",
                    "--secrets-dir",
                    &secrets_dir,
                ],
                &[("PATHOPS_SECRET_ACME__ZASTAVA__ENV_TOKEN", SECRET)],
            ));
        }
        runs
    })
    .await
    .unwrap();
    for (run, out) in outcome.iter().enumerate() {
        assert_eq!(out.code, Some(0), "run {run}:\n{}", out.screen);
        assert!(
            out.screen
                .contains("\n50 integrations: 50 passed, 0 failed, 0 skipped\n"),
            "run {run}:\n{}",
            out.screen
        );
        assert!(out.elapsed < RUN_BOUND, "run {run} took {:?}", out.elapsed);
        assert!(!out.screen.contains("SENTINEL"), "a secret on the screen");
    }
    // Every run pinged every integration, and the tool called back every time.
    assert_eq!(tool.callback_statuses().len(), 500);
    assert!(tool.callback_statuses().iter().all(|s| *s == 200));
}
