//! [`DirectPingConnector`]: a connector for tools that implement the PathOps direct-ping
//! protocol ([`pathops_core::directping`]) — PathOps's own runtime agents and feeds (Zastava,
//! Concelier, Excititor) or any custom tool (feature `directping`).
//!
//! - connection test and health check: a probe (`POST /pathops/ping` without a callback URL)
//!   with `Authorization: Bearer <secret>`; a 2xx answer proves reachability and
//!   authentication;
//! - [`DeliveryRequest::DirectPing`]: the same call with a callback URL, after which the tool
//!   calls PathOps back with its proof.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pathops_core::directping::{self, PingRequest};
use pathops_core::{
    Capabilities, Capability, CheckResult, Configuration, ConnectorContext, DeliveryRequest,
    FailureCode, IntegrationConnector, Provider, Result,
};

use crate::http::{HttpClient, HttpPolicy, HttpRequest, status};

/// A direct-ping connector for one provider.
#[derive(Debug, Clone)]
pub struct DirectPingConnector {
    provider: Provider,
    http: Arc<HttpClient>,
}

/// Builds a [`DirectPingConnector`]; setters never fail.
#[derive(Debug)]
pub struct DirectPingConnectorBuilder {
    provider: Provider,
    policy: HttpPolicy,
}

impl DirectPingConnector {
    /// A builder for `provider` (for example [`Provider::Zastava`]).
    pub fn builder(provider: Provider) -> DirectPingConnectorBuilder {
        DirectPingConnectorBuilder {
            provider,
            policy: HttpPolicy::default(),
        }
    }

    async fn ping(&self, ctx: &ConnectorContext, request: &PingRequest) -> CheckResult {
        let started = Instant::now();
        let Some(secret) = ctx.secret.as_ref() else {
            return CheckResult::failed(
                FailureCode::Unauthenticated,
                started.elapsed(),
                "the integration has no credential to authenticate the ping",
            );
        };
        let url = ctx.integration.base_url.join(directping::PING_PATH);
        let body = serde_json::to_value(request).unwrap_or_default();
        let http_request = HttpRequest::post(url)
            .credential("authorization", "Bearer ", secret)
            .json(&body);
        match self.http.send(ctx, http_request).await {
            Err(e) => status::transport_failed(&e, started),
            Ok(response) => {
                let now = time::OffsetDateTime::now_utc();
                match status::default_failure(response.status, &response.headers, now) {
                    None => CheckResult::passed(started.elapsed(), "the tool accepted the ping")
                        .with_detail(
                            pathops_core::connector::detail::HTTP_STATUS,
                            response.status.as_u16(),
                        ),
                    Some(code) => CheckResult::failed(
                        code,
                        started.elapsed(),
                        format!("the ping endpoint answered {}", response.status),
                    )
                    .with_detail(
                        pathops_core::connector::detail::HTTP_STATUS,
                        response.status.as_u16(),
                    ),
                }
            }
        }
    }

    fn probe_request() -> PingRequest {
        PingRequest {
            challenge_id: format!("probe-{}", directping::new_nonce()),
            nonce: directping::new_nonce(),
            callback_url: None,
        }
    }
}

impl DirectPingConnectorBuilder {
    /// Uses this HTTP policy.
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The connector; a bad proxy or CA in the policy is an error here.
    pub fn build(self) -> Result<DirectPingConnector> {
        Ok(DirectPingConnector {
            provider: self.provider,
            http: Arc::new(HttpClient::new(self.policy)?),
        })
    }
}

#[async_trait]
impl IntegrationConnector for DirectPingConnector {
    fn provider(&self) -> Provider {
        self.provider.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([
            Capability::TestConnection,
            Capability::HealthCheck,
            Capability::DirectPing,
        ])
    }

    async fn validate_config(&self, _configuration: &Configuration) -> Result<()> {
        Ok(())
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        self.ping(ctx, &Self::probe_request()).await
    }

    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        self.ping(ctx, &Self::probe_request()).await
    }

    async fn trigger_delivery(
        &self,
        ctx: &ConnectorContext,
        request: &DeliveryRequest,
    ) -> CheckResult {
        match request {
            DeliveryRequest::DirectPing(ping) => self.ping(ctx, ping).await,
            other => CheckResult::failed(
                FailureCode::Unsupported,
                std::time::Duration::ZERO,
                format!(
                    "{} is not supported by {}",
                    other.capability().as_str(),
                    self.provider
                ),
            ),
        }
    }
}
