//! The wire types of protocol v1, shared by the host ([`PluginConnector`](super::PluginConnector))
//! and the plugin side ([`serve`](super::serve)). See the [module docs](super) for the
//! specification.

use pathops_core::directping::PingRequest;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{Capabilities, Configuration, DeliveryRequest, Integration, IntegrationType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol versions this crate speaks (host and plugin side).
pub const PROTOCOL_VERSIONS: &[u32] = &[1];

/// The default cap on one message (one line), in bytes, both directions.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Method names.
pub mod method {
    /// `initialize`: the handshake, first call of every process.
    pub const INITIALIZE: &str = "initialize";
    /// `validate_config`.
    pub const VALIDATE_CONFIG: &str = "validate_config";
    /// `test_connection`.
    pub const TEST_CONNECTION: &str = "test_connection";
    /// `check_health`.
    pub const CHECK_HEALTH: &str = "check_health";
    /// `expected_delivery`.
    pub const EXPECTED_DELIVERY: &str = "expected_delivery";
    /// `trigger_delivery`.
    pub const TRIGGER_DELIVERY: &str = "trigger_delivery";
    /// `shutdown`.
    pub const SHUTDOWN: &str = "shutdown";
    /// `$/cancel` (a notification: no `id`, no answer of its own).
    pub const CANCEL: &str = "$/cancel";
}

/// JSON-RPC error codes.
pub mod code {
    /// The line is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// JSON, but not a JSON-RPC 2.0 request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params do not fit the method (also: no protocol version in common).
    pub const INVALID_PARAMS: i64 = -32602;
    /// The plugin failed internally.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The request was cancelled by `$/cancel`.
    pub const REQUEST_CANCELLED: i64 = -32800;
    /// `validate_config` refused the configuration; `data` is `{field, reason}`.
    pub const INVALID_CONFIG: i64 = -32010;
}

/// `initialize` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitializeParams {
    /// The versions the host speaks.
    pub protocol_versions: Vec<u32>,
    /// The host's PathOps version.
    pub host_version: String,
}

/// `initialize` result: who the plugin is. Must agree with its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitializeResult {
    /// The version chosen, one of the host's.
    pub protocol_version: u32,
    /// The plugin's id.
    pub plugin_id: String,
    /// The plugin's own version.
    pub version: String,
    /// The provider it serves (a built-in name or a custom one).
    pub provider: String,
    /// The provider's integration type.
    pub integration_type: IntegrationType,
    /// What it can do.
    pub capabilities: Capabilities,
}

/// `validate_config` params.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidateConfigParams {
    /// The configuration to check.
    pub configuration: Configuration,
}

/// The `data` of an [`code::INVALID_CONFIG`] error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidConfig {
    /// The configuration key at fault (empty for the object as a whole).
    #[serde(default)]
    pub field: String,
    /// Why.
    pub reason: String,
}

/// A delivery request on the wire (`{"type": "webhook_test", "trigger": "push_events"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireDeliveryRequest {
    /// [`DeliveryRequest::WebhookTest`].
    WebhookTest {
        /// The trigger.
        trigger: String,
    },
    /// [`DeliveryRequest::HookPing`].
    HookPing,
    /// [`DeliveryRequest::DirectPing`].
    DirectPing {
        /// The ping.
        ping: PingRequest,
    },
}

impl WireDeliveryRequest {
    /// The wire form of `request` (`None` for a kind this protocol version does not carry).
    pub fn from_request(request: &DeliveryRequest) -> Option<Self> {
        Some(match request {
            DeliveryRequest::WebhookTest { trigger } => Self::WebhookTest {
                trigger: trigger.clone(),
            },
            DeliveryRequest::HookPing => Self::HookPing,
            DeliveryRequest::DirectPing(ping) => Self::DirectPing { ping: ping.clone() },
            _ => return None,
        })
    }

    /// The request it carries.
    pub fn into_request(self) -> DeliveryRequest {
        match self {
            Self::WebhookTest { trigger } => DeliveryRequest::WebhookTest { trigger },
            Self::HookPing => DeliveryRequest::HookPing,
            Self::DirectPing { ping } => DeliveryRequest::DirectPing(ping),
        }
    }
}

/// `expected_delivery` result (or `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedDelivery {
    /// The delivery format.
    pub kind: DeliveryKind,
    /// What identifies it.
    pub expectation: Expectation,
}

/// The params of `test_connection`, `check_health`, `trigger_delivery` and
/// `expected_delivery` as the plugin reads them. The secret is a plain string on the wire
/// (stdin only); the plugin side wraps it at once.
#[derive(Deserialize)]
pub(crate) struct CallParams {
    pub(crate) integration: Integration,
    #[serde(default)]
    pub(crate) secret: Option<String>,
    #[serde(default)]
    pub(crate) deadline_ms: Option<u64>,
    #[serde(default)]
    pub(crate) request: Option<WireDeliveryRequest>,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    /// The code ([`code`]).
    pub code: i64,
    /// One line.
    pub message: String,
    /// More, by code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// With data.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// One message from a plugin, as the host reads it: a response to one of its requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Response {
    pub(crate) jsonrpc: String,
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) result: Option<Value>,
    #[serde(default)]
    pub(crate) error: Option<RpcError>,
}

/// One message from the host, as a plugin reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct Request {
    pub(crate) jsonrpc: String,
    #[serde(default)]
    pub(crate) id: Option<Value>,
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) params: Value,
}

/// A request line (`id` set) or a notification (`id` none).
pub(crate) fn request_line(id: Option<u64>, method: &str, params: Value) -> String {
    let mut message = serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params});
    if let Some(id) = id {
        message["id"] = id.into();
    }
    let mut line = message.to_string();
    line.push('\n');
    line
}

/// A response line to `id`.
pub(crate) fn response_line(id: &Value, outcome: Result<Value, RpcError>) -> String {
    let message = match outcome {
        Ok(result) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error}),
    };
    let mut line = message.to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_single_line_json_rpc() {
        let line = request_line(Some(7), method::CHECK_HEALTH, json!({"a": "x\ny"}));
        assert!(line.ends_with('\n'));
        assert_eq!(
            line.matches('\n').count(),
            1,
            "escaped, not embedded: {line}"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], 7);
        let note = request_line(None, method::CANCEL, json!({"id": 7}));
        assert!(
            serde_json::from_str::<Value>(&note)
                .unwrap()
                .get("id")
                .is_none()
        );
        let err = response_line(&json!(3), Err(RpcError::new(code::METHOD_NOT_FOUND, "no")));
        let r: Response = serde_json::from_str(&err).unwrap();
        assert_eq!((r.id, r.error.unwrap().code), (3, code::METHOD_NOT_FOUND));
    }

    #[test]
    fn delivery_requests_round_trip_on_the_wire() {
        for request in [
            DeliveryRequest::WebhookTest {
                trigger: "push_events".into(),
            },
            DeliveryRequest::HookPing,
        ] {
            let wire = WireDeliveryRequest::from_request(&request).unwrap();
            let text = serde_json::to_string(&wire).unwrap();
            let back: WireDeliveryRequest = serde_json::from_str(&text).unwrap();
            assert_eq!(back.into_request(), request);
        }
        assert_eq!(
            serde_json::to_value(WireDeliveryRequest::HookPing).unwrap(),
            json!({"type": "hook_ping"})
        );
    }
}
