//! Reading what an S3 server says about a failed call: MinIO's `x-minio-error-code` /
//! `x-minio-error-desc` headers (its answers to `HEAD`, which have no body), the XML error
//! body of a `GET` (`<Error><Code>…</Code><Message>…</Message><Region>…</Region>…`), and
//! `x-amz-bucket-region`.

use serde::Deserialize;

use crate::http::HttpResponse;

/// What the answers to the bucket calls say, gathered from headers and bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// The S3 error code (`SignatureDoesNotMatch`, `AccessDenied`, …).
    pub(crate) code: Option<String>,
    /// The server's message for it.
    pub(crate) message: Option<String>,
    /// `x-amz-bucket-region`: the bucket's region (AWS), or the server's (MinIO sends its
    /// own region on every answer when one is configured).
    pub(crate) bucket_region: Option<String>,
    /// The region the server expects: an XML error's `<Region>`, or the one MinIO names in
    /// its `AuthorizationHeaderMalformed` message (`…; expecting 'eu-west-1'.`).
    pub(crate) expected_region: Option<String>,
}

/// An S3 XML error body. Unknown elements are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename = "Error")]
struct XmlError {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "Region")]
    region: Option<String>,
}

/// Keeps a value only when it is short, printable text: these come from the server and go
/// into messages.
fn tidy(value: &str) -> Option<String> {
    let value = value.trim().trim_matches('"').trim();
    (!value.is_empty() && value.len() <= 512 && !value.chars().any(char::is_control))
        .then(|| value.to_owned())
}

/// The region in `expecting 'X'` (MinIO's wording for a region mismatch).
fn expecting(message: &str) -> Option<String> {
    let start = message.find("expecting '")? + "expecting '".len();
    let end = message[start..].find('\'')? + start;
    tidy(&message[start..end])
}

/// A region name as servers write it: letters, digits, `-` and `_`.
fn region_like(value: String) -> Option<String> {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .then_some(value)
}

impl Evidence {
    /// What `response` says in its headers and, when it is an XML error, its body.
    pub(crate) fn from_response(response: &HttpResponse) -> Self {
        let mut evidence = Self {
            code: response.header("x-minio-error-code").and_then(tidy),
            message: response.header("x-minio-error-desc").and_then(tidy),
            bucket_region: response
                .header("x-amz-bucket-region")
                .and_then(tidy)
                .and_then(region_like),
            expected_region: None,
        };
        if let Some(xml) = std::str::from_utf8(&response.body)
            .ok()
            .filter(|text| text.contains("<Error"))
            .and_then(|text| quick_xml::de::from_str::<XmlError>(text).ok())
        {
            evidence.code = xml.code.as_deref().and_then(tidy).or(evidence.code);
            evidence.message = xml.message.as_deref().and_then(tidy).or(evidence.message);
            evidence.expected_region = xml.region.as_deref().and_then(tidy).and_then(region_like);
        }
        if evidence.expected_region.is_none() {
            evidence.expected_region = evidence
                .message
                .as_deref()
                .and_then(expecting)
                .and_then(region_like);
        }
        evidence
    }

    /// `self`, with what `other` knows and `self` does not.
    pub(crate) fn or(self, other: Self) -> Self {
        Self {
            code: self.code.or(other.code),
            message: self.message.or(other.message),
            bucket_region: self.bucket_region.or(other.bucket_region),
            expected_region: self.expected_region.or(other.expected_region),
        }
    }
}

/// What an S3 error code means for the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// The key is unknown, its signature wrong, its token invalid or expired.
    Unauthenticated,
    /// The server's clock and PathOps's differ by more than S3 allows (15 minutes).
    ClockSkew,
    /// The key is valid but may not list the bucket.
    AccessDenied,
    /// The bucket does not exist.
    NoSuchBucket,
    /// The request was signed for another region than the bucket's or the server's.
    WrongRegion,
    /// MinIO has not finished starting (its object layer, IAM or bucket metadata).
    NotInitialised,
    /// The server asks to slow down.
    SlowDown,
    /// Anything else.
    Other,
}

/// The meaning of an S3 (or MinIO) error code, as the S3 error-code list and MinIO's
/// `cmd/api-errors.go` define them.
pub(crate) fn meaning(code: &str) -> Meaning {
    match code {
        "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "InvalidToken"
        | "ExpiredToken"
        | "TokenRefreshRequired"
        | "InvalidSecurity"
        | "AccessKeyDisabled"
        | "XMinioInvalidIAMCredentials" => Meaning::Unauthenticated,
        "RequestTimeTooSkewed" => Meaning::ClockSkew,
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => Meaning::AccessDenied,
        "NoSuchBucket" => Meaning::NoSuchBucket,
        "AuthorizationHeaderMalformed"
        | "PermanentRedirect"
        | "InvalidRegion"
        | "IllegalLocationConstraintException" => Meaning::WrongRegion,
        "XMinioServerNotInitialized" | "XMinioIAMNotInitialized" => Meaning::NotInitialised,
        "SlowDown" | "ServerBusy" | "XMinioServerBusy" => Meaning::SlowDown,
        _ => Meaning::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(*n, HeaderValue::from_str(v).unwrap());
        }
        HttpResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
            url: "http://127.0.0.1/evidence".parse().unwrap(),
        }
    }

    #[test]
    fn minio_head_errors_are_read_from_its_headers() {
        let e = Evidence::from_response(&response(
            400,
            &[
                ("x-minio-error-code", "AuthorizationHeaderMalformed"),
                (
                    "x-minio-error-desc",
                    "\"The authorization header is malformed; the region is wrong; expecting 'eu-west-1'.\"",
                ),
                ("x-amz-bucket-region", "eu-west-1"),
            ],
            "",
        ));
        assert_eq!(e.code.as_deref(), Some("AuthorizationHeaderMalformed"));
        assert!(
            e.message
                .as_deref()
                .unwrap()
                .starts_with("The authorization")
        );
        assert_eq!(e.expected_region.as_deref(), Some("eu-west-1"));
        assert_eq!(e.bucket_region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn xml_errors_are_read_from_the_body() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region &apos;us-east-1&apos; is wrong; expecting &apos;eu-central-1&apos;</Message><Region>eu-central-1</Region><RequestId>1</RequestId><HostId>h</HostId></Error>"#;
        let e = Evidence::from_response(&response(400, &[], body));
        assert_eq!(e.code.as_deref(), Some("AuthorizationHeaderMalformed"));
        assert_eq!(e.expected_region.as_deref(), Some("eu-central-1"));
        let e = Evidence::from_response(&response(
            403,
            &[],
            "<Error><Code>SignatureDoesNotMatch</Code></Error>",
        ));
        assert_eq!(e.code.as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(e.message, None);
        let e = Evidence::from_response(&response(403, &[], "<html>denied</html>"));
        assert_eq!(e, Evidence::default());
        let e = Evidence::from_response(&response(403, &[], "<Error><Code>broken"));
        assert_eq!(e.code, None, "a truncated body says nothing");
    }

    #[test]
    fn server_text_is_kept_only_when_it_is_tidy() {
        let e = Evidence::from_response(&response(
            403,
            &[("x-amz-bucket-region", "eu west 1; <script>")],
            "",
        ));
        assert_eq!(e.bucket_region, None);
        let long = "x".repeat(600);
        let e = Evidence::from_response(&response(403, &[("x-minio-error-code", &long)], ""));
        assert_eq!(e.code, None);
    }

    #[test]
    fn codes_have_their_documented_meanings() {
        assert_eq!(meaning("SignatureDoesNotMatch"), Meaning::Unauthenticated);
        assert_eq!(meaning("InvalidAccessKeyId"), Meaning::Unauthenticated);
        assert_eq!(meaning("AccessDenied"), Meaning::AccessDenied);
        assert_eq!(meaning("NoSuchBucket"), Meaning::NoSuchBucket);
        assert_eq!(meaning("PermanentRedirect"), Meaning::WrongRegion);
        assert_eq!(meaning("RequestTimeTooSkewed"), Meaning::ClockSkew);
        assert_eq!(
            meaning("XMinioServerNotInitialized"),
            Meaning::NotInitialised
        );
        assert_eq!(meaning("InternalError"), Meaning::Other);
    }
}
