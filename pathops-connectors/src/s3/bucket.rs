//! Proving access to the evidence bucket: a SigV4-signed `HeadBucket`, and when its answer
//! does not say why it failed, a signed `ListObjectsV2` (`max-keys=0`) whose XML error body
//! does.

use std::time::SystemTime;

use pathops_core::{CheckResult, FailureCode};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::answer::{Evidence, Meaning, meaning};
use super::config::{AddressingStyle, S3Config};
use super::detail;
use crate::aws::{AwsKeys, Scope, SignError, signed_request};
use crate::check::Check;
use crate::http::{HttpResponse, status};

type Step<T> = Result<T, CheckResult>;

/// Where the bucket is, and where its credentials may go.
struct Target {
    /// The bucket's URL, without a query.
    url: String,
    /// The origin signed requests are bound to: the base URL's (path style) or the
    /// bucket's own host (virtual-hosted style).
    origin: Option<String>,
}

fn target(check: &Check<'_>, config: &S3Config) -> Step<Target> {
    let base = &check.ctx.integration.base_url;
    match config.addressing_style {
        AddressingStyle::Path => Ok(Target {
            url: base.join(&config.bucket),
            origin: None,
        }),
        AddressingStyle::Virtual => {
            let mut url = base.to_url();
            let host = match url.host() {
                Some(url::Host::Domain(host)) => host.to_owned(),
                _ => {
                    return Err(check
                        .failed(
                            FailureCode::InvalidConfig,
                            "virtual-hosted addressing needs a host name in the base URL, not an \
                             IP address: set `addressing_style` to `path`",
                        )
                        .with_detail(detail::PROBLEM, "configuration"));
                }
            };
            url.set_host(Some(&format!("{}.{host}", config.bucket)))
                .map_err(|_| {
                    check.failed(
                        FailureCode::InvalidConfig,
                        "the bucket and the base URL's host do not make a host name",
                    )
                })?;
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            let origin = url.origin().ascii_serialization();
            Ok(Target {
                url: url.to_string(),
                origin: Some(origin),
            })
        }
    }
}

/// What the bucket calls proved.
pub(super) struct Proved {
    /// `HeadBucket`, or `ListObjectsV2` when only the listing was allowed.
    pub(super) by: &'static str,
    /// The bucket's region as the server reported it.
    pub(super) bucket_region: Option<String>,
}

async fn signed(
    check: &Check<'_>,
    keys: &AwsKeys,
    config: &S3Config,
    target: &Target,
    method: Method,
    query: &str,
) -> Step<HttpResponse> {
    let scope = Scope {
        region: &config.region,
        service: "s3",
        s3: true,
    };
    let url = format!("{}{query}", target.url);
    let request = signed_request(
        keys,
        scope,
        method,
        &url,
        &[],
        Vec::new(),
        SystemTime::now(),
    )
    .map_err(|e| {
        check.failed(
            FailureCode::InvalidConfig,
            match e {
                SignError::Params => "cannot sign for this region",
                SignError::Request => "the bucket URL cannot be signed",
                SignError::Sign => "the request could not be signed",
            },
        )
    })?;
    match &target.origin {
        None => check.send(request).await,
        Some(origin) => check.send_to(origin, request).await,
    }
}

/// The wrong-region failure: the bucket (or the server) is in `actual`, the integration
/// signs for the configured region.
fn wrong_region(
    check: &Check<'_>,
    config: &S3Config,
    call: &str,
    status: u16,
    actual: Option<&str>,
) -> CheckResult {
    let message = match actual {
        Some(actual) => format!(
            "{call} answered {status}: bucket {} is in region {actual}, but the integration \
             signs for {}: set `region` to {actual}",
            config.bucket, config.region
        ),
        None => format!(
            "{call} answered {status}: the server refuses region {} for bucket {} and does not \
             say which it expects",
            config.region, config.bucket
        ),
    };
    let mut result = check
        .failed(FailureCode::InvalidConfig, message)
        .with_detail(detail::PROBLEM, "wrong_region");
    // The storage answered: it was reached, whatever it would make of the credentials.
    result.reachability = pathops_core::Probe::Passed;
    if let Some(actual) = actual {
        result = result.with_detail(detail::BUCKET_REGION, actual);
    }
    result
}

/// `HEAD /<bucket>`; on a `400` or `403` whose headers carry no error code (S3's `HEAD`
/// answers have no body; MinIO's carry `x-minio-error-code`), `GET /<bucket>?list-type=2&max-keys=0`
/// to read the code from its XML. The listing needs the same permission (`s3:ListBucket`),
/// so when it is allowed the bucket is proved by it.
pub(super) async fn prove(
    check: &Check<'_>,
    keys: &AwsKeys,
    config: &S3Config,
    now: OffsetDateTime,
) -> Step<Proved> {
    let target = target(check, config)?;
    let head_call = format!("HEAD /{}", config.bucket);
    let head = signed(check, keys, config, &target, Method::HEAD, "").await?;
    let evidence = Evidence::from_response(&head);
    let status = head.status.as_u16();
    if head.status.is_success() {
        return accessible(check, config, &head_call, status, evidence, "HeadBucket");
    }
    let (evidence, call, status, answered) =
        if evidence.code.is_none() && matches!(status, 400 | 403) {
            let list_call = format!("GET /{}?list-type=2&max-keys=0", config.bucket);
            let list = signed(
                check,
                keys,
                config,
                &target,
                Method::GET,
                "?list-type=2&max-keys=0",
            )
            .await?;
            let listed = Evidence::from_response(&list);
            if list.status.is_success() {
                let evidence = listed.or(evidence);
                return accessible(
                    check,
                    config,
                    &list_call,
                    list.status.as_u16(),
                    evidence,
                    "ListObjectsV2",
                );
            }
            let code = list.status.as_u16();
            (listed.or(evidence), list_call, code, list)
        } else {
            (evidence, head_call, status, head)
        };
    Err(failed(
        check, config, keys, &call, status, &evidence, &answered, now,
    ))
}

/// A `2xx`: the bucket is accessible, unless the server reports it in another region than
/// the one signed for (servers that do not enforce regions, such as moto, answer anyway;
/// S3 itself would refuse the writes).
fn accessible(
    check: &Check<'_>,
    config: &S3Config,
    call: &str,
    status: u16,
    evidence: Evidence,
    by: &'static str,
) -> Step<Proved> {
    if let Some(actual) = evidence.bucket_region.as_deref()
        && actual != config.region
    {
        return Err(wrong_region(check, config, call, status, Some(actual)));
    }
    Ok(Proved {
        by,
        bucket_region: evidence.bucket_region,
    })
}

#[allow(clippy::too_many_arguments)]
fn failed(
    check: &Check<'_>,
    config: &S3Config,
    keys: &AwsKeys,
    call: &str,
    status: u16,
    evidence: &Evidence,
    response: &HttpResponse,
    now: OffsetDateTime,
) -> CheckResult {
    let code = evidence.code.as_deref();
    let meant = code.map_or(Meaning::Other, meaning);
    let said = match (code, evidence.message.as_deref()) {
        (Some(c), Some(m)) => format!(" ({c}: {m})"),
        (Some(c), None) => format!(" ({c})"),
        _ => String::new(),
    };
    let key = &keys.access_key_id;
    let bucket = &config.bucket;
    let region_evidence = || {
        evidence
            .expected_region
            .as_deref()
            .or(evidence.bucket_region.as_deref())
            .filter(|r| *r != config.region)
    };
    let with_code = |result: CheckResult| match code {
        Some(c) => result.with_detail(detail::S3_ERROR_CODE, c),
        None => result,
    };
    if meant == Meaning::WrongRegion
        || status == 301
        || (status == 400 && code.is_none() && region_evidence().is_some())
    {
        return with_code(wrong_region(check, config, call, status, region_evidence()));
    }
    let result = match meant {
        Meaning::Unauthenticated => {
            let why = match code {
                Some("SignatureDoesNotMatch") => "the secret access key is wrong",
                Some("InvalidAccessKeyId") => "the access key id is unknown to the server",
                Some("ExpiredToken" | "TokenRefreshRequired") => "the session token has expired",
                Some("InvalidToken") => "the session token is invalid",
                Some("AccessKeyDisabled") => "the access key is disabled",
                _ => "the credentials were refused",
            };
            check.failed(
                FailureCode::Unauthenticated,
                format!("{call} answered {status}{said}: access key {key} was refused: {why}"),
            )
        }
        Meaning::ClockSkew => check.failed(
            FailureCode::Unauthenticated,
            format!(
                "{call} answered {status}{said}: the server's clock and PathOps's differ by more \
                 than 15 minutes, so every signature is refused"
            ),
        ),
        Meaning::AccessDenied => check.failed(
            FailureCode::PermissionDenied {
                missing_scope: Some("s3:ListBucket".to_owned()),
            },
            format!(
                "{call} answered {status}{said}: access key {key} is valid but may not list \
                 bucket {bucket} (grant s3:ListBucket on arn:aws:s3:::{bucket})"
            ),
        ),
        Meaning::NoSuchBucket => not_found(check, config, call, status, &said),
        Meaning::NotInitialised => check
            .failed(
                FailureCode::Unhealthy,
                format!("{call} answered {status}{said}: MinIO has not finished starting"),
            )
            .with_detail(detail::MINIO_HEALTH, "initialising"),
        Meaning::SlowDown => check.failed(
            FailureCode::RateLimited {
                reset_at: status::retry_after(&response.headers, now),
            },
            format!("{call} answered {status}{said}: the server asks to slow down"),
        ),
        Meaning::WrongRegion | Meaning::Other => match status {
            404 => not_found(check, config, call, status, &said),
            403 => check.failed(
                FailureCode::PermissionDenied {
                    missing_scope: Some("s3:ListBucket".to_owned()),
                },
                format!(
                    "{call} answered 403{said} without saying why: access key {key} was refused \
                     or may not list bucket {bucket}"
                ),
            ),
            _ => {
                let failure = status::default_failure(response.status, &response.headers, now)
                    .unwrap_or(FailureCode::InvalidResponse);
                check.failed(failure, format!("{call} answered {status}{said}"))
            }
        },
    };
    with_code(result)
}

fn not_found(
    check: &Check<'_>,
    config: &S3Config,
    call: &str,
    status: u16,
    said: &str,
) -> CheckResult {
    check.failed(
        FailureCode::NotFound,
        format!(
            "{call} answered {status}{said}: bucket {} does not exist on {}",
            config.bucket,
            check.ctx.integration.base_url.host()
        ),
    )
}

/// The details of a proved bucket.
pub(super) fn details(proved: &Proved) -> [(&'static str, Value); 2] {
    [
        (detail::PROVED_BY, json!(proved.by)),
        (detail::BUCKET_REGION, json!(proved.bucket_region)),
    ]
}
