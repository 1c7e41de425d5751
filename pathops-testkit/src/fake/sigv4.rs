//! Verifying AWS Signature Version 4 on a request a fake received, the way S3 does: parse
//! the `Authorization` header, check the date and the credential scope, then sign the
//! request again with the key's secret (with the `aws-sigv4` crate, S3's settings) over
//! exactly the headers the client signed, and compare the signatures in constant time.

use axum::http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The parts of a SigV4 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    /// The access key id.
    pub(crate) access_key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub(crate) date: String,
    /// The region of the credential scope.
    pub(crate) region: String,
    /// The service of the credential scope.
    pub(crate) service: String,
    /// The signed header names, lowercase, `;`-separated in the header.
    pub(crate) signed_headers: Vec<String>,
    /// The hex signature.
    pub(crate) signature: String,
}

/// Why a signature was refused, as S3 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No SigV4 `Authorization` header at all (an anonymous request).
    Anonymous,
    /// The header does not parse, or the scope is not `…/<region>/<service>/aws4_request`.
    Malformed,
    /// No `x-amz-date`, or one that does not parse or differs from the scope's date.
    BadDate,
    /// `x-amz-date` more than 15 minutes from the fake's clock.
    Skewed,
    /// No `x-amz-content-sha256`, or one that is not the body's hash.
    ContentSha256,
    /// The signature is not the one the secret makes.
    Mismatch,
}

/// The SigV4 `Authorization` header of `headers`.
pub(crate) fn authorization(headers: &HeaderMap) -> Result<Authorization, Refused> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refused::Anonymous)?;
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or(Refused::Malformed)?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(Refused::Malformed);
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(Refused::Malformed);
    };
    Ok(Authorization {
        access_key_id: (*key).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: signature.to_owned(),
    })
}

/// Checks the signature of a request for S3: the date (within 15 minutes of now, equal to
/// the scope's), the payload hash against `body`, and the signature, recomputed with
/// `secret` over the signed headers only.
pub(crate) fn verify_s3(
    auth: &Authorization,
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let when = header("x-amz-date")
        .and_then(|d| {
            time::PrimitiveDateTime::parse(
                d,
                time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
            )
            .ok()
        })
        .ok_or(Refused::BadDate)?
        .assume_utc();
    let scope_date = format!(
        "{:04}{:02}{:02}",
        when.year(),
        u8::from(when.month()),
        when.day()
    );
    if scope_date != auth.date {
        return Err(Refused::BadDate);
    }
    if (time::OffsetDateTime::now_utc() - when).abs() > time::Duration::minutes(15) {
        return Err(Refused::Skewed);
    }
    let content = header("x-amz-content-sha256").ok_or(Refused::ContentSha256)?;
    if content != "UNSIGNED-PAYLOAD" && content != const_hex::encode(Sha256::digest(body)) {
        return Err(Refused::ContentSha256);
    }
    let mut signed = Vec::new();
    for name in &auth.signed_headers {
        // The signer adds these itself: `host` from the URL, `x-amz-date` from the time and
        // `x-amz-content-sha256` from the payload hash given below.
        if matches!(
            name.as_str(),
            "host" | "x-amz-date" | "x-amz-content-sha256"
        ) {
            continue;
        }
        let value = header(name).ok_or(Refused::Mismatch)?;
        signed.push((name.as_str(), value));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(Refused::Mismatch);
    }
    let host = header("host").ok_or(Refused::Mismatch)?;
    let url = format!(
        "http://{host}{}",
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let identity = aws_credential_types::Credentials::new(
        auth.access_key_id.clone(),
        secret.to_owned(),
        None,
        None,
        "fake-s3",
    )
    .into();
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    // Sign exactly what the client signed: nothing the default settings would exclude.
    settings.excluded_headers = None;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&auth.region)
        .name(&auth.service)
        .time(std::time::SystemTime::from(when))
        .settings(settings)
        .build()
        .map_err(|_| Refused::Malformed)?
        .into();
    let expected = aws_sigv4::http_request::SignableRequest::new(
        method.as_str(),
        &url,
        signed.iter().copied(),
        aws_sigv4::http_request::SignableBody::Precomputed(content.to_owned()),
    )
    .ok()
    .and_then(|r| aws_sigv4::http_request::sign(r, &params).ok())
    .map(|output| output.signature().to_owned())
    .ok_or(Refused::Mismatch)?;
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}
