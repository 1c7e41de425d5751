//! [`WebhookTestTrigger`]: asking a tool to send a test delivery, for the doctor.
//!
//! The core [`IntegrationConnector`] contract has no webhook operation, so connectors that
//! offer [`Capability::WebhookTest`](pathops_core::Capability::WebhookTest) (GitLab's hook test
//! trigger) or [`Capability::HookPing`](pathops_core::Capability::HookPing) (GitHub's hook ping)
//! also implement this trait. The hook to test comes from the integration's configuration.

use std::time::Duration;

use async_trait::async_trait;
use pathops_core::{CheckResult, ConnectorContext, IntegrationConnector};

/// What a test-delivery request achieved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookTestOutcome {
    /// The tool delivered synchronously and the receiver answered 2xx (GitLab 201).
    Delivered {
        /// Time the tool took, delivery included.
        latency: Duration,
    },
    /// The tool accepted the request and delivers asynchronously (GitHub ping 204): watch the
    /// receiver.
    Requested {
        /// Time the request took.
        latency: Duration,
    },
    /// The tool tried to deliver and the receiver failed: `message` is the tool's account (the
    /// receiver's body, or the connection error it met). GitLab 422.
    ReceiverFailed {
        /// What the tool reported.
        message: String,
        /// Time the tool took.
        latency: Duration,
    },
    /// The tool refused the request or could not be reached: see the check result.
    NotTriggered(CheckResult),
}

/// A connector that can ask its tool for a test delivery.
#[async_trait]
pub trait WebhookTestTrigger: IntegrationConnector {
    /// Asks the tool to deliver a test event to the hook named in the integration's
    /// configuration.
    async fn trigger_webhook_test(&self, ctx: &ConnectorContext) -> WebhookTestOutcome;
}
