//! Tests that need a real server (PostgreSQL, NATS, Vault, Redis, a registry) read its address
//! from a `PATHOPS_TEST_*` variable through [`service_url`]: unset, the test prints that it
//! skipped and passes; unset while [`REQUIRE_VAR`] is `1` (as CI sets it), the test fails, so a
//! server that CI forgot to start cannot turn a suite green by skipping it.

/// Set to `1` to make every skipped server test fail instead.
pub const REQUIRE_VAR: &str = "PATHOPS_REQUIRE_SERVICES";

/// The value of `var` when it is set and not empty. Otherwise prints `skipping: <var> not set`
/// and returns `None`, or panics when [`REQUIRE_VAR`] is `1`.
///
/// ```no_run
/// if let Some(url) = pathops_testkit::services::service_url("PATHOPS_TEST_EXAMPLE_URL") {
///     // connect to `url` and run the test
/// #   let _ = url;
/// }
/// ```
pub fn service_url(var: &str) -> Option<String> {
    decide(
        var,
        std::env::var(var).ok(),
        std::env::var(REQUIRE_VAR).ok(),
    )
}

fn decide(var: &str, value: Option<String>, required: Option<String>) -> Option<String> {
    match value.filter(|v| !v.is_empty()) {
        Some(value) => Some(value),
        None if required.as_deref() == Some("1") => {
            panic!("{REQUIRE_VAR}=1 but {var} is not set: this test must run against its server")
        }
        None => {
            eprintln!("skipping: {var} not set");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_runs_unset_skips_unset_and_required_fails() {
        let v = || Some("nats://x".to_owned());
        assert_eq!(decide("V", v(), None).as_deref(), Some("nats://x"));
        assert_eq!(
            decide("V", v(), Some("1".into())).as_deref(),
            Some("nats://x")
        );
        assert_eq!(decide("V", None, None), None);
        assert_eq!(decide("V", Some(String::new()), Some("0".into())), None);
        let required = std::panic::catch_unwind(|| decide("V", None, Some("1".into())));
        assert!(
            required.is_err(),
            "a required service that is missing fails"
        );
    }
}
