//! [`TransportError`]: why a call produced no usable HTTP answer, and its [`FailureCode`].

use std::error::Error as StdError;
use std::time::Duration;

use pathops_core::FailureCode;
use pathops_core::error::BoxError;

/// Why a call produced no usable HTTP answer. `Display` states the fact; the cause (resolver,
/// socket or TLS error) is in [`source`](std::error::Error::source). No variant holds a
/// credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Offline mode is on.
    #[error("offline mode: no network call was made")]
    Offline,
    /// The egress policy refused the destination.
    #[error("egress policy refuses {host}: {reason}")]
    EgressRefused {
        /// The refused host or address.
        host: String,
        /// Which rule refused it.
        reason: &'static str,
    },
    /// A request carrying a credential was refused before it was sent: to another origin
    /// than the integration's own, or over plain `http://` while the policy forbids it.
    #[error("credential not sent to {origin}: {reason}")]
    CredentialRefused {
        /// The origin the request was for (`scheme://host:port`).
        origin: String,
        /// Which rule refused it.
        reason: &'static str,
    },
    /// The host name did not resolve.
    #[error("could not resolve {host}")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: BoxError,
    },
    /// The connection was refused, reset or closed before an answer.
    #[error("connection to {host} failed")]
    Connect {
        /// The host.
        host: String,
        /// The socket error.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {host} failed")]
    Tls {
        /// The host.
        host: String,
        /// The TLS error.
        #[source]
        source: BoxError,
    },
    /// No connection (TCP, then TLS for `https`) was established within the policy's
    /// connect timeout: the host is silent, filtered, or not speaking TLS on that port.
    #[error("no connection to {host} within {} ms (TCP and TLS handshake)", after.as_millis())]
    ConnectTimeout {
        /// The host.
        host: String,
        /// The connect timeout.
        after: Duration,
    },
    /// Connected, but no complete answer before the deadline (or the request timeout): the
    /// tool is reachable and slow.
    #[error("no answer within {} ms", after.as_millis())]
    Timeout {
        /// The time allowed.
        after: Duration,
    },
    /// The host answered, but not with HTTP (another protocol on that port, or a broken
    /// proxy): reachable, and the answer is unusable.
    #[error("{host} answered, but not with HTTP")]
    NotHttp {
        /// The host.
        host: String,
        /// The parser's error.
        #[source]
        source: BoxError,
    },
    /// The tool redirected to another origin (scheme, host or port); the redirect was not
    /// followed so credentials stay with the configured origin.
    #[error(
        "redirect to another origin ({to}) not followed: credentials stay with the configured origin"
    )]
    CrossOriginRedirect {
        /// The origin the redirect pointed at (`https://host:port`).
        to: String,
    },
    /// More redirects than the policy allows.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The policy's limit.
        max: usize,
    },
    /// The response body exceeded the policy's cap.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The request could not be built (a bad URL, proxy or certificate).
    #[error("invalid request settings")]
    InvalidRequest {
        /// What was wrong.
        #[source]
        source: BoxError,
    },
}

impl TransportError {
    /// The failure code a check reports for this error.
    pub fn failure_code(&self) -> FailureCode {
        match self {
            Self::Offline => FailureCode::Offline,
            Self::EgressRefused { .. } | Self::CredentialRefused { .. } => {
                FailureCode::EgressDenied
            }
            Self::InvalidRequest { .. } => FailureCode::InvalidConfig,
            Self::Dns { .. } => FailureCode::Dns,
            Self::Connect { .. } => FailureCode::Connect,
            Self::Tls { .. } => FailureCode::Tls,
            Self::ConnectTimeout { .. } | Self::Timeout { .. } => FailureCode::Timeout,
            Self::NotHttp { .. }
            | Self::CrossOriginRedirect { .. }
            | Self::TooManyRedirects { .. }
            | Self::BodyTooLarge { .. } => FailureCode::InvalidResponse,
        }
    }

    /// One line for humans: this error and its innermost cause.
    pub fn describe(&self) -> String {
        let mut root: Option<&(dyn StdError + 'static)> = None;
        let mut next = self.source();
        while let Some(e) = next {
            root = Some(e);
            next = e.source();
        }
        match root {
            Some(cause) => format!("{self}: {cause}"),
            None => self.to_string(),
        }
    }
}

/// Marker errors our resolver and redirect policy return, found again in reqwest's chain.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("egress policy refuses {host}: {reason}")]
    Egress { host: String, reason: &'static str },
    #[error("redirect to {to} refused")]
    CrossOrigin { to: String },
    #[error("too many redirects")]
    TooMany { max: usize },
}

/// Whether hyper gave up because the peer does not speak HTTP: an answer that does not parse,
/// or bytes sent before any request (a server that talks first, as SSH and SMTP do; hyper has
/// no predicate for that kind, only its message).
fn not_http(e: &hyper::Error) -> bool {
    e.is_parse() || e.to_string() == "received unexpected message from connection"
}

/// Maps a reqwest error to a transport error by walking its cause chain. `timeout` is the
/// time the whole call had, `connect_timeout` the policy's limit for connecting.
pub(crate) fn from_reqwest(
    err: reqwest::Error,
    host: &str,
    timeout: Duration,
    connect_timeout: Duration,
) -> TransportError {
    let host = host.to_owned();
    let chain = || {
        let mut out: Vec<&(dyn StdError + 'static)> = Vec::new();
        let mut next: Option<&(dyn StdError + 'static)> = Some(&err);
        while let Some(e) = next {
            out.push(e);
            // `io::Error::source` skips the error it wraps: step into it instead.
            next = match e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => e.source(),
            };
        }
        out
    };
    for e in chain() {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return match refusal {
                Refusal::Egress { host, reason } => TransportError::EgressRefused {
                    host: host.clone(),
                    reason,
                },
                Refusal::CrossOrigin { to } => {
                    TransportError::CrossOriginRedirect { to: to.clone() }
                }
                Refusal::TooMany { max } => TransportError::TooManyRedirects { max: *max },
            };
        }
    }
    if err.is_timeout() {
        // reqwest marks its connect timeout as both a connect and a timeout error.
        return if err.is_connect() {
            TransportError::ConnectTimeout {
                host,
                after: connect_timeout.min(timeout),
            }
        } else {
            TransportError::Timeout { after: timeout }
        };
    }
    if chain()
        .iter()
        .any(|e| e.downcast_ref::<hyper::Error>().is_some_and(not_http))
    {
        return TransportError::NotHttp {
            host,
            source: Box::new(err.without_url()),
        };
    }
    if chain().iter().any(|e| e.is::<rustls::Error>()) {
        return TransportError::Tls {
            host,
            source: Box::new(err.without_url()),
        };
    }
    if err.is_dns() {
        return TransportError::Dns {
            host,
            source: Box::new(err.without_url()),
        };
    }
    if err.is_builder() {
        return TransportError::InvalidRequest {
            source: Box::new(err.without_url()),
        };
    }
    TransportError::Connect {
        host,
        source: Box::new(err.without_url()),
    }
}
