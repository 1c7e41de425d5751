//! The Scheduler example follows a real Redis stream and reacts to each event in order.

use std::process::Command;

#[test]
fn the_scheduler_example_reacts_to_each_event_in_order() {
    let Some(url) = pathops_testkit::services::service_url("PATHOPS_TEST_REDIS_URL") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .env("PATHOPS_REDIS_URL", url)
        .output()
        .expect("run scheduler");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = [
        "integration.created",
        "schedule: start jobs for gitlab-payments",
        "integration.paused",
        "pause jobs",
        "integration.resumed",
        "resume jobs",
        "integration.deleted",
        "cancel jobs",
        "consumer: the stream is drained",
    ];
    let mut rest: &str = &stdout;
    for want in expected {
        let at = rest
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing or out of order in:\n{stdout}"));
        rest = &rest[at + want.len()..];
    }
}
