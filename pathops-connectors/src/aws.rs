//! AWS Signature Version 4, for the connectors that call AWS-style APIs: ECR's
//! `GetAuthorizationToken` (feature `oci`) and S3 (feature `minio`).
//!
//! The signature is computed by the `aws-sigv4` crate, never here. This module reads the
//! integration's key pair from its secret and turns the signing instructions into request
//! headers: `authorization` and `x-amz-security-token` are added as credentials (marked
//! sensitive, bound to the integration's origin), `x-amz-date` and `x-amz-content-sha256` as
//! plain headers.

use std::time::SystemTime;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::HttpRequest;

/// The JSON secret of an AWS-signed integration,
/// `{"access_key_id", "secret_access_key", "session_token"?}`. No `Debug`: it holds the key.
pub(crate) struct AwsKeys {
    /// The access key id (an identifier, not a secret: it names the key in messages).
    pub(crate) access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysShape {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    session_token: Option<String>,
}

impl AwsKeys {
    /// The keys in `secret`, or `None` when it is not that JSON object (the caller says so
    /// without echoing the secret).
    pub(crate) fn from_secret(secret: &SecretString) -> Option<Self> {
        let shape: KeysShape = serde_json::from_str(secret.expose_secret()).ok()?;
        Some(Self {
            access_key_id: shape.access_key_id,
            secret_access_key: SecretString::from(shape.secret_access_key),
            session_token: shape.session_token.map(SecretString::from),
        })
    }

    /// Whether the key id or the secret key is empty or blank.
    #[cfg(feature = "minio")]
    pub(crate) fn is_blank(&self) -> bool {
        self.access_key_id.trim().is_empty() || self.secret_access_key.expose_secret().is_empty()
    }
}

/// What a request is signed for: the region and service of the credential scope, and
/// whether the service is S3 (which signs the payload hash in `x-amz-content-sha256`, and
/// takes the path as sent: single percent-encoding, no normalization).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    pub(crate) s3: bool,
}

/// Why a request could not be signed. Holds nothing of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignError {
    /// The signing parameters were refused (an empty region or service).
    Params,
    /// The URL or a header is not signable.
    Request,
    /// The signer failed.
    Sign,
}

/// `method url` with the plain `headers` and `body`, signed for `scope` with `keys` at
/// `time`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn signed_request(
    keys: &AwsKeys,
    scope: Scope<'_>,
    method: Method,
    url: &str,
    headers: &[(&'static str, &str)],
    body: Vec<u8>,
    time: SystemTime,
) -> Result<HttpRequest, SignError> {
    let identity = aws_credential_types::Credentials::new(
        keys.access_key_id.clone(),
        keys.secret_access_key.expose_secret().to_owned(),
        keys.session_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        None,
        "pathops-integration",
    )
    .into();
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    if scope.s3 {
        settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode =
            aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| SignError::Params)?
        .into();
    let signable = aws_sigv4::http_request::SignableRequest::new(
        method.as_str(),
        url,
        headers.iter().copied(),
        aws_sigv4::http_request::SignableBody::Bytes(&body),
    )
    .map_err(|_| SignError::Request)?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|_| SignError::Sign)?
        .into_parts();
    let mut request = HttpRequest::new(method, url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if !body.is_empty() {
        request = request.body(body);
    }
    for (name, value) in instructions.headers() {
        request = match name {
            "authorization" => {
                request.credential("authorization", "", &SecretString::from(value.to_owned()))
            }
            "x-amz-security-token" => request.credential(
                "x-amz-security-token",
                "",
                &SecretString::from(value.to_owned()),
            ),
            "x-amz-date" => request.header("x-amz-date", value),
            "x-amz-content-sha256" => request.header("x-amz-content-sha256", value),
            _ => request,
        };
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(json: &str) -> Option<AwsKeys> {
        AwsKeys::from_secret(&SecretString::from(json.to_owned()))
    }

    #[test]
    fn the_secret_is_the_documented_json_and_nothing_else() {
        let k = keys(r#"{"access_key_id":"AKIA1","secret_access_key":"s"}"#).unwrap();
        assert_eq!(k.access_key_id, "AKIA1");
        #[cfg(feature = "minio")]
        assert!(!k.is_blank());
        assert!(
            keys(r#"{"access_key_id":"AKIA1","secret_access_key":"s","session_token":"t"}"#)
                .is_some()
        );
        assert!(keys("AKIA1:s").is_none());
        assert!(keys(r#"{"access_key_id":"AKIA1"}"#).is_none());
        assert!(
            keys(r#"{"access_key_id":"AKIA1","secret_access_key":"s","region":"x"}"#).is_none(),
            "unknown keys are refused"
        );
        #[cfg(feature = "minio")]
        assert!(
            keys(r#"{"access_key_id":" ","secret_access_key":"s"}"#)
                .unwrap()
                .is_blank()
        );
    }

    #[test]
    fn s3_requests_carry_the_payload_hash_and_a_sensitive_signature() {
        let k = keys(r#"{"access_key_id":"AKIA1","secret_access_key":"s"}"#).unwrap();
        let scope = Scope {
            region: "us-east-1",
            service: "s3",
            s3: true,
        };
        let url = "http://127.0.0.1:9000/evidence";
        let r = signed_request(
            &k,
            scope,
            Method::HEAD,
            url,
            &[],
            Vec::new(),
            SystemTime::now(),
        )
        .unwrap();
        assert!(r.carries_credential());
        let debug = format!("{r:?}");
        assert!(debug.contains("x-amz-content-sha256"), "{debug}");
        assert!(debug.contains("x-amz-date"), "{debug}");
        let ecr = Scope {
            s3: false,
            service: "ecr",
            ..scope
        };
        let r = signed_request(
            &k,
            ecr,
            Method::POST,
            url,
            &[],
            b"{}".to_vec(),
            SystemTime::now(),
        )
        .unwrap();
        assert!(!format!("{r:?}").contains("x-amz-content-sha256"));
        assert_eq!(
            signed_request(
                &k,
                scope,
                Method::HEAD,
                "not a url",
                &[],
                Vec::new(),
                SystemTime::now()
            )
            .unwrap_err(),
            SignError::Request
        );
    }
}
