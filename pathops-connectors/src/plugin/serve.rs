//! The plugin side: [`serve`] answers protocol v1 for any [`IntegrationConnector`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use pathops_core::{CheckResult, ConnectorContext, Error, FailureCode, IntegrationConnector};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::protocol::{
    self, CallParams, ExpectedDelivery, InitializeParams, InitializeResult, InvalidConfig, Request,
    RpcError, WireDeliveryRequest, code, method,
};

/// Serves `connector` as a plugin on this process's stdin and stdout until stdin closes.
///
/// Everything the connector logs must go to stderr: stdout carries protocol messages only
/// (a `tracing` subscriber writing to `std::io::stderr`, never `println!`).
///
/// ```no_run
/// # #[cfg(feature = "harbor")]
/// # async fn run() -> std::io::Result<()> {
/// let harbor = pathops_connectors::harbor::HarborConnector::builder().build().unwrap();
/// pathops_connectors::plugin::serve(harbor).await
/// # }
/// ```
pub async fn serve<C: IntegrationConnector + 'static>(connector: C) -> std::io::Result<()> {
    serve_on(Arc::new(connector), tokio::io::stdin(), tokio::io::stdout()).await
}

/// [`serve`] over any pair of streams (a test's pipes, a socket).
pub async fn serve_on<R, W>(
    connector: Arc<dyn IntegrationConnector>,
    input: R,
    output: W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = rx.recv().await {
            output.write_all(line.as_bytes()).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let tasks: Arc<Mutex<HashMap<String, AbortHandle>>> = Arc::default();
    let mut lines = FramedRead::new(
        input,
        LinesCodec::new_with_max_length(protocol::DEFAULT_MAX_MESSAGE_BYTES),
    );
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(LinesCodecError::MaxLineLengthExceeded) => {
                let error = RpcError::new(code::INVALID_REQUEST, "message over the size cap");
                let _ = tx.send(protocol::response_line(&Value::Null, Err(error)));
                continue;
            }
            Err(LinesCodecError::Io(e)) => return Err(e),
        };
        if line.trim().is_empty() {
            continue;
        }
        let request: Request = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(e) => {
                let error =
                    RpcError::new(code::PARSE_ERROR, format!("not a JSON-RPC request: {e}"));
                let _ = tx.send(protocol::response_line(&Value::Null, Err(error)));
                continue;
            }
        };
        let Some(id) = request.id.clone() else {
            if request.method == method::CANCEL
                && let Some(target) = request.params.get("id")
            {
                let handle = tasks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&target.to_string());
                if let Some(handle) = handle {
                    handle.abort();
                    let error = RpcError::new(code::REQUEST_CANCELLED, "cancelled");
                    let _ = tx.send(protocol::response_line(target, Err(error)));
                }
            }
            continue;
        };
        if request.jsonrpc != "2.0" {
            let error = RpcError::new(code::INVALID_REQUEST, "jsonrpc must be \"2.0\"");
            let _ = tx.send(protocol::response_line(&id, Err(error)));
            continue;
        }
        if request.method == method::SHUTDOWN {
            let _ = tx.send(protocol::response_line(&id, Ok(json!({}))));
            continue;
        }
        let connector = connector.clone();
        let out = tx.clone();
        let key = id.to_string();
        let registry = tasks.clone();
        let task = tokio::spawn(async move {
            let outcome = dispatch(&*connector, &request.method, request.params).await;
            registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id.to_string());
            let _ = out.send(protocol::response_line(&id, outcome));
        });
        tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, task.abort_handle());
    }
    // stdin closed: the host is done. Abandon what is still running.
    for (_, task) in tasks.lock().unwrap_or_else(PoisonError::into_inner).drain() {
        task.abort();
    }
    drop(tx);
    writer.await.map_err(std::io::Error::other)?
}

fn invalid_params(e: impl std::fmt::Display) -> RpcError {
    RpcError::new(code::INVALID_PARAMS, format!("invalid params: {e}"))
}

async fn dispatch(
    connector: &dyn IntegrationConnector,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    match method {
        method::INITIALIZE => {
            let params: InitializeParams =
                serde_json::from_value(params).map_err(invalid_params)?;
            let chosen = params
                .protocol_versions
                .iter()
                .filter(|v| protocol::PROTOCOL_VERSIONS.contains(v))
                .max()
                .copied();
            let Some(protocol_version) = chosen else {
                return Err(RpcError::new(
                    code::INVALID_PARAMS,
                    format!(
                        "no protocol version in common: the host speaks {:?}, this plugin {:?}",
                        params.protocol_versions,
                        protocol::PROTOCOL_VERSIONS
                    ),
                )
                .with_data(json!({
                    "supported": protocol::PROTOCOL_VERSIONS,
                    "requested": params.protocol_versions,
                })));
            };
            let d = connector.descriptor();
            let result = InitializeResult {
                protocol_version,
                plugin_id: d.id,
                version: d.version,
                provider: d.provider.as_str().to_owned(),
                integration_type: d.integration_type,
                capabilities: d.capabilities,
            };
            serde_json::to_value(result)
                .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))
        }
        method::VALIDATE_CONFIG => {
            let params: protocol::ValidateConfigParams =
                serde_json::from_value(params).map_err(invalid_params)?;
            match connector.validate_config(&params.configuration).await {
                Ok(()) => Ok(json!({})),
                Err(Error::Validation(e)) => {
                    let (field, reason) = match &e.problem {
                        pathops_core::Problem::AtKey { key, problem } => {
                            (key.clone(), problem.to_string())
                        }
                        other => (String::new(), format!("{}: {other}", e.field)),
                    };
                    Err(RpcError::new(code::INVALID_CONFIG, e.to_string())
                        .with_data(json!(InvalidConfig { field, reason })))
                }
                Err(e) => Err(
                    RpcError::new(code::INVALID_CONFIG, e.to_string()).with_data(json!(
                        InvalidConfig {
                            field: String::new(),
                            reason: e.to_string()
                        }
                    )),
                ),
            }
        }
        method::TEST_CONNECTION | method::CHECK_HEALTH | method::TRIGGER_DELIVERY => {
            let params: CallParams = serde_json::from_value(params).map_err(invalid_params)?;
            let budget = Duration::from_millis(params.deadline_ms.unwrap_or(15_000));
            // Answer before the host's deadline, so the answer (a timeout of our own, if it
            // comes to that) arrives in time.
            let margin = (budget / 10).min(Duration::from_millis(50));
            let budget = budget.saturating_sub(margin);
            let ctx = ConnectorContext::new(
                Arc::new(params.integration),
                params.secret.map(SecretString::from),
                budget,
            );
            let request = params.request.map(WireDeliveryRequest::into_request);
            let call = async {
                Ok::<_, RpcError>(match method {
                    method::TEST_CONNECTION => connector.test_connection(&ctx).await,
                    method::CHECK_HEALTH => connector.check_health(&ctx).await,
                    _ => {
                        let request =
                            request.ok_or_else(|| invalid_params("request is missing"))?;
                        connector.trigger_delivery(&ctx, &request).await
                    }
                })
            };
            let result = match tokio::time::timeout(budget, call).await {
                Ok(result) => result?,
                Err(_) => CheckResult::failed(
                    FailureCode::Timeout,
                    budget,
                    format!("the check did not finish within {} ms", budget.as_millis()),
                ),
            };
            serde_json::to_value(result)
                .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))
        }
        method::EXPECTED_DELIVERY => {
            let params: CallParams = serde_json::from_value(params).map_err(invalid_params)?;
            let Some(request) = params.request else {
                return Err(invalid_params("request is missing"));
            };
            let expected = connector
                .expected_delivery(&params.integration, &request.into_request())
                .await;
            Ok(match expected {
                Some((kind, expectation)) => json!(ExpectedDelivery { kind, expectation }),
                None => Value::Null,
            })
        }
        other => Err(RpcError::new(
            code::METHOD_NOT_FOUND,
            format!("no method {other}"),
        )),
    }
}
