//! The hook ping (`POST /repos/{owner}/{repo}/hooks/{id}/pings`) and the `ping`
//! delivery it makes.

use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{CheckResult, ConnectorContext, FailureCode, Integration};

use super::{GitHubAppConfig, GitHubAppConnector};

/// A `ping` delivery naming the configured hook (`X-GitHub-Hook-ID`, the payload's
/// `hook_id`). `None` without a `hook_id`.
pub(super) fn expectation(integration: &Integration) -> Option<(DeliveryKind, Expectation)> {
    let config = GitHubAppConfig::parse(&integration.configuration).ok()?;
    let expectation = Expectation {
        hook_id: Some(config.hook_id?),
        event: Some("ping".to_owned()),
        ..Expectation::default()
    };
    Some((DeliveryKind::GitHub, expectation))
}

impl GitHubAppConnector {
    /// `POST repos/:owner/:repo/hooks/:hook_id/pings` with the installation token: 204 means
    /// GitHub accepted the ping; whether it arrived is the receiver's to say.
    pub(super) async fn ping(&self, ctx: &ConnectorContext) -> CheckResult {
        const WHAT: &str = "POST repos/:owner/:repo/hooks/:hook_id/pings";
        let call = match self.start(ctx) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let (Some(repository), Some(hook_id), Some(installation)) = (
            call.config.repository.clone(),
            call.config.hook_id,
            call.config.installation_id,
        ) else {
            return call.check.failed(
                FailureCode::InvalidConfig,
                "a hook ping needs `repository`, `hook_id` and `installation_id` in the configuration",
            );
        };
        let with_target = |r: CheckResult| {
            r.with_detail(detail::PROJECT, repository.clone())
                .with_detail(detail::HOOK_ID, hook_id)
        };
        let token = match self.installation_token(&call, installation).await {
            Ok((token, _)) => token,
            Err(r) => return with_target(r),
        };
        let path = format!("repos/{repository}/hooks/{hook_id}/pings");
        let response = match call
            .check
            .send(Self::request(&call, reqwest::Method::POST, &path, &token))
            .await
        {
            Ok(r) => r,
            Err(r) => return with_target(r),
        };
        let status = response.status.as_u16();
        let result = match self.expect(&call, WHAT, &response) {
            Ok(_) => call.check.passed(format!(
                "GitHub accepted the ping of hook {hook_id} ({status})"
            )),
            Err(r) => r,
        };
        with_target(result.with_detail(detail::HTTP_STATUS, status))
    }
}
