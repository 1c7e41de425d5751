//! The `serve` binary as an operator runs it: `--help`, a bad tokens file, and a real start
//! that answers the API with a token from the file and stops on request.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve() -> Command {
    Command::new(env!("CARGO_BIN_EXE_serve"))
}

#[test]
fn help_documents_the_flags_the_tokens_file_and_the_routes() {
    let out = serve().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--tokens",
        "--catalog",
        "--listen",
        "--nats-url",
        "--offline",
        "integrations.admin",
        "/api/v1/openapi.json",
        "/webhooks/",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn a_tokens_file_with_a_short_token_is_refused_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        r#"{"tokens":[{"token":"SENTINEL-short","tenant":"acme","actor":"a","scopes":[]}]}"#,
    )
    .unwrap();
    let out = serve()
        .args(["--listen", "127.0.0.1:0", "--tokens"])
        .arg(&tokens)
        .arg("--catalog")
        .arg(format!("sqlite://{}", dir.path().join("c.db").display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 16"), "{stderr}");
    assert!(!stderr.contains("SENTINEL"), "{stderr}");
}

#[test]
fn it_serves_the_api_with_the_files_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    let token = "serve-cli-test-token-0123";
    std::fs::write(
        &tokens,
        format!(
            r#"{{"tokens":[{{"token":"{token}","tenant":"acme","actor":"alice","scopes":["integrations.read"]}}]}}"#
        ),
    )
    .unwrap();
    let mut child = serve()
        .args(["--listen", "127.0.0.1:0", "--offline", "--tokens"])
        .arg(&tokens)
        .arg("--catalog")
        .arg(format!("sqlite://{}", dir.path().join("c.db").display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line names the bound address.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let started = Instant::now();
    let addr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(rest) = line.strip_prefix("serve: listening on http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (anonymous, with_token) = rt.block_on(async {
        let url = format!("http://{addr}/api/v1/integrations");
        let anonymous = status(&url, None).await;
        let with_token = status(&url, Some(token)).await;
        (anonymous, with_token)
    });
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(anonymous, 401);
    assert_eq!(with_token, 200);
}

async fn status(url: &str, token: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new().get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap().status().as_u16()
}
