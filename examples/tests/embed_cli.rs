//! The embedding example (the README's quick start) runs and reports what it did.

use std::process::Command;

#[test]
fn the_embedding_example_registers_tests_pauses_and_relays() {
    let out = Command::new(env!("CARGO_BIN_EXE_embed"))
        .output()
        .expect("run embed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "registered zastava-eu as pending_verification",
        "tested: reachability Passed, authentication Passed",
        "-> active",
        "paused: paused",
        "audit chain: 3 entries verified",
        "integration.created v1",
        "integration.paused v3",
        "audit.anchored v3",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("agent-token"), "a secret was printed");
}
