//! [`Finding`]: a problem and its fix, as data. The doctor reports them; connectors supply
//! the provider-specific ones through
//! [`IntegrationConnector::findings`](crate::IntegrationConnector::findings), so remediation
//! for a provider lives with the provider's connector, not in the doctor.

use serde::{Deserialize, Serialize};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something is broken.
    Error,
    /// Works now, will break or is degraded.
    Warning,
    /// Worth knowing.
    Info,
}

/// A problem and its fix, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// Stable machine code (`webhook_token_mismatch`, …).
    pub code: String,
    /// One line.
    pub title: String,
    /// Why it matters or what the evidence says.
    pub why: String,
    /// What to do, in order.
    pub steps: Vec<String>,
    /// The exact API call or command that fixes it, when there is one.
    pub api_call: Option<String>,
    /// Where to read more.
    pub doc_link: Option<String>,
}

impl Finding {
    /// A finding with no steps, call or link yet.
    pub fn new(
        severity: Severity,
        code: impl Into<String>,
        title: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            code: code.into(),
            title: title.into(),
            why: why.into(),
            steps: Vec::new(),
            api_call: None,
            doc_link: None,
        }
    }

    /// What to do, in order.
    pub fn with_steps<S: Into<String>>(mut self, steps: impl IntoIterator<Item = S>) -> Self {
        self.steps = steps.into_iter().map(Into::into).collect();
        self
    }

    /// The exact API call or command that fixes it.
    pub fn with_api_call(mut self, call: impl Into<String>) -> Self {
        self.api_call = Some(call.into());
        self
    }

    /// Where to read more.
    pub fn with_doc_link(mut self, link: impl Into<String>) -> Self {
        self.doc_link = Some(link.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_fills_every_field_and_serializes_as_the_report_schema() {
        let f = Finding::new(Severity::Warning, "csrf_disabled", "title", "why")
            .with_steps(["one", "two"])
            .with_api_call("GET /x")
            .with_doc_link("https://example.com");
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["severity"], "warning");
        assert_eq!(json["steps"], serde_json::json!(["one", "two"]));
        assert_eq!(json["api_call"], "GET /x");
        assert_eq!(json["doc_link"], "https://example.com");
        assert_eq!(serde_json::from_value::<Finding>(json).unwrap(), f);
    }
}
