//! The fixes for a MinIO / S3 result, as [`Finding`]s. Failures reuse the doctor's generic
//! codes (`invalid_config`, `not_found`, `missing_scope`, `unauthenticated`,
//! `tool_unhealthy`) so these replace its generic advice; warnings on passed results have
//! codes of their own.

use pathops_core::{CheckResult, FailureCode, Finding, Integration, Severity};
use serde_json::{Value, json};

use super::detail;

const AWS_HEAD_BUCKET_DOC: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html";
const AWS_ERRORS_DOC: &str = "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html";
const AWS_CREATE_BUCKET_DOC: &str =
    "https://docs.aws.amazon.com/cli/latest/reference/s3api/create-bucket.html";
const AWS_POLICY_DOC: &str =
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-policies-s3.html";
const AWS_ACCESS_KEYS_DOC: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html";
const MINIO_MB_DOC: &str = "https://min.io/docs/minio/linux/reference/minio-mc/mc-mb.html";
const MINIO_POLICY_DOC: &str =
    "https://min.io/docs/minio/linux/reference/minio-mc-admin/mc-admin-policy-attach.html";
const MINIO_HEALTH_DOC: &str =
    "https://docs.min.io/community/minio-object-store/operations/monitoring/healthcheck-probe.html";
const MINIO_ERASURE_DOC: &str =
    "https://docs.min.io/community/minio-object-store/operations/concepts/erasure-coding.html";
const MINIO_HEAL_DOC: &str =
    "https://docs.min.io/community/minio-object-store/reference/minio-mc-admin/mc-admin-heal.html";

/// The least a PathOps access key needs on its evidence bucket: list it (which `HeadBucket`
/// needs too) and find its region, read and write its objects. IAM policy JSON, as AWS and
/// MinIO both take it.
pub fn evidence_policy(bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": format!("arn:aws:s3:::{bucket}"),
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
            },
        ],
    })
}

/// What the findings need to name, from the result's details or else the configuration.
struct Named {
    bucket: String,
    region: String,
    minio: bool,
    key: Option<String>,
}

fn named(integration: &Integration, result: &CheckResult) -> Named {
    let text = |key: &str| {
        result
            .details
            .get(key)
            .or_else(|| integration.configuration.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Named {
        bucket: text(detail::BUCKET).unwrap_or_else(|| "<bucket>".to_owned()),
        region: text(detail::REGION).unwrap_or_else(|| super::DEFAULT_REGION.to_owned()),
        minio: text(detail::FLAVOR).as_deref() != Some("s3"),
        key: result
            .details
            .get(detail::ACCESS_KEY_ID)
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn detail_u64(result: &CheckResult, key: &str) -> Option<u64> {
    result.details.get(key).and_then(Value::as_u64)
}

/// Single quotes for a shell, so a name cannot become a command.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub(super) fn for_result(integration: &Integration, result: &CheckResult) -> Vec<Finding> {
    let n = named(integration, result);
    let mut out = Vec::new();
    match &result.failure {
        None => {}
        Some(FailureCode::InvalidConfig) => match result.detail_str(detail::PROBLEM) {
            Some("wrong_region") => out.push(wrong_region(&n, result)),
            Some("secret_shape") => out.push(
                Finding::new(
                    Severity::Error,
                    "invalid_config",
                    "The secret is not an S3 access key pair",
                    result.message.clone(),
                )
                .with_steps([
                    "Store JSON {\"access_key_id\": \"…\", \"secret_access_key\": \"…\"} (and \
                     \"session_token\" for temporary credentials) behind the integration's auth ref.",
                    "Run the doctor again.",
                ])
                .with_doc_link(AWS_ACCESS_KEYS_DOC),
            ),
            _ => {}
        },
        Some(FailureCode::NotFound) => out.push(missing_bucket(&n, result)),
        Some(FailureCode::PermissionDenied { .. }) => out.push(access_denied(&n, result)),
        Some(FailureCode::Unauthenticated) => out.push(refused_key(&n, integration, result)),
        Some(FailureCode::Unhealthy) => out.extend(unhealthy(result)),
        Some(FailureCode::InvalidResponse)
            if result.detail_str(detail::PROBLEM) == Some("not_minio") =>
        {
            out.push(
                Finding::new(
                    Severity::Error,
                    "invalid_response",
                    format!("{} does not serve MinIO's health probes", integration.base_url.host()),
                    result.message.clone(),
                )
                .with_steps([
                    "For AWS S3, Ceph RGW or another S3 implementation, set the integration's \
                     `flavor` to `s3`.",
                    "For MinIO behind a proxy, route /minio/health/* to MinIO as well.",
                ])
                .with_doc_link(MINIO_HEALTH_DOC),
            );
        }
        Some(_) => {}
    }
    if let Some(drives) = detail_u64(result, detail::HEALING_DRIVES).filter(|d| *d > 0)
        && result.is_success()
    {
        out.push(
            Finding::new(
                Severity::Warning,
                "minio_healing_drives",
                format!("MinIO is healing {drives} drives"),
                "The cluster has write quorum, but redundancy is reduced until healing ends: \
                 losing more drives meanwhile can cost quorum.",
            )
            .with_steps([
                "Follow the healing progress and do not take nodes or drives down until it ends.",
                "Replace failed drives if healing does not progress.",
            ])
            .with_api_call("mc admin heal ALIAS")
            .with_doc_link(MINIO_HEAL_DOC),
        );
    }
    if result.details.get(detail::MAINTENANCE_SAFE) == Some(&Value::Bool(false))
        && result.is_success()
    {
        out.push(
            Finding::new(
                Severity::Warning,
                "minio_maintenance_unsafe",
                format!(
                    "Taking {} down would cost MinIO its write quorum",
                    integration.base_url.host()
                ),
                "/minio/health/cluster?maintenance=true answered 412: the other nodes do not \
                 hold write quorum on their own.",
            )
            .with_steps([
                "Do not take this node down for maintenance now.",
                "Bring the cluster's other nodes and drives back online first.",
            ])
            .with_api_call(format!(
                "curl -sS -o /dev/null -w '%{{http_code}}' {}",
                sh(&integration
                    .base_url
                    .join("minio/health/cluster?maintenance=true"))
            ))
            .with_doc_link(MINIO_HEALTH_DOC),
        );
    }
    out
}

fn wrong_region(n: &Named, result: &CheckResult) -> Finding {
    let actual = result.detail_str(detail::BUCKET_REGION);
    let title = match actual {
        Some(actual) => format!(
            "Bucket {} is in region {actual}, the integration signs for {}",
            n.bucket, n.region
        ),
        None => format!(
            "The server refuses region {} for bucket {}",
            n.region, n.bucket
        ),
    };
    let mut steps = vec![match actual {
        Some(actual) => format!("Set the integration's `region` to {actual}."),
        None => "Ask the storage's operator for its region and set the integration's `region` \
                 to it."
            .to_owned(),
    }];
    if !n.minio
        && let Some(actual) = actual
    {
        steps.push(format!(
            "On AWS, use the bucket's regional endpoint https://s3.{actual}.amazonaws.com as the \
             base URL."
        ));
    }
    steps.push("Run the doctor again.".to_owned());
    let call = if n.minio {
        "mc admin config get ALIAS site".to_owned()
    } else {
        format!("aws s3api get-bucket-location --bucket {}", sh(&n.bucket))
    };
    Finding::new(
        Severity::Error,
        "invalid_config",
        title,
        result.message.clone(),
    )
    .with_steps(steps)
    .with_api_call(call)
    .with_doc_link(AWS_HEAD_BUCKET_DOC)
}

fn missing_bucket(n: &Named, result: &CheckResult) -> Finding {
    let (call, doc) = if n.minio {
        (
            format!("mc mb {}", sh(&format!("ALIAS/{}", n.bucket))),
            MINIO_MB_DOC,
        )
    } else if n.region == "us-east-1" {
        (
            format!(
                "aws s3api create-bucket --bucket {} --region us-east-1",
                sh(&n.bucket)
            ),
            AWS_CREATE_BUCKET_DOC,
        )
    } else {
        (
            format!(
                "aws s3api create-bucket --bucket {} --region {} \
                 --create-bucket-configuration LocationConstraint={}",
                sh(&n.bucket),
                sh(&n.region),
                sh(&n.region)
            ),
            AWS_CREATE_BUCKET_DOC,
        )
    };
    Finding::new(
        Severity::Error,
        "not_found",
        format!("Bucket {} does not exist", n.bucket),
        result.message.clone(),
    )
    .with_steps([
        format!(
            "Create bucket {} in region {} (or fix `bucket` if it is misspelt).",
            n.bucket, n.region
        ),
        "Grant the integration's access key the evidence policy on it.".to_owned(),
        "Run the doctor again.".to_owned(),
    ])
    .with_api_call(call)
    .with_doc_link(doc)
}

fn access_denied(n: &Named, result: &CheckResult) -> Finding {
    let policy = evidence_policy(&n.bucket).to_string();
    let who = n.key.clone().unwrap_or_else(|| "the access key".to_owned());
    let call = if n.minio {
        format!(
            "mc admin policy create ALIAS pathops-evidence policy.json && mc admin policy \
             attach ALIAS pathops-evidence --user {}   # policy.json: {policy}",
            sh(&who)
        )
    } else {
        format!(
            "aws iam put-user-policy --user-name USER --policy-name pathops-evidence \
             --policy-document {}",
            sh(&policy)
        )
    };
    Finding::new(
        Severity::Error,
        "missing_scope",
        format!("{who} may not use bucket {}", n.bucket),
        result.message.clone(),
    )
    .with_steps([
        format!(
            "Grant the key's user a policy allowing s3:ListBucket and s3:GetBucketLocation on \
             arn:aws:s3:::{b}, and s3:GetObject and s3:PutObject on arn:aws:s3:::{b}/*.",
            b = n.bucket
        ),
        "Check that no bucket policy denies the key.".to_owned(),
        "Run the doctor again.".to_owned(),
    ])
    .with_api_call(call)
    .with_doc_link(if n.minio {
        MINIO_POLICY_DOC
    } else {
        AWS_POLICY_DOC
    })
}

fn refused_key(n: &Named, integration: &Integration, result: &CheckResult) -> Finding {
    let who = n.key.clone().unwrap_or_else(|| "The access key".to_owned());
    let host = integration.base_url.host();
    let title = match result.detail_str(detail::S3_ERROR_CODE) {
        Some("SignatureDoesNotMatch") => format!("The secret access key of {who} is wrong"),
        Some("InvalidAccessKeyId") => format!("{who} is unknown to {host}"),
        Some("RequestTimeTooSkewed") => {
            return Finding::new(
                Severity::Error,
                "unauthenticated",
                format!("The clocks of PathOps and {host} differ by more than 15 minutes"),
                result.message.clone(),
            )
            .with_steps([
                "Synchronise the clocks of both hosts (NTP).",
                "Run the doctor again.",
            ])
            .with_doc_link(AWS_ERRORS_DOC);
        }
        Some("ExpiredToken" | "TokenRefreshRequired") => {
            format!("The session token of {who} has expired")
        }
        _ => format!("{host} refused {who}"),
    };
    let call = if n.minio {
        "mc admin user svcacct add ALIAS USER".to_owned()
    } else {
        "aws iam create-access-key --user-name USER".to_owned()
    };
    Finding::new(
        Severity::Error,
        "unauthenticated",
        title,
        result.message.clone(),
    )
    .with_steps([
        "Create an access key for the integration's user (or a MinIO service account).",
        "Store {\"access_key_id\", \"secret_access_key\"} as JSON behind the integration's \
             auth ref.",
        "Run the doctor again.",
    ])
    .with_api_call(call)
    .with_doc_link(if n.minio {
        MINIO_POLICY_DOC
    } else {
        AWS_ACCESS_KEYS_DOC
    })
}

fn unhealthy(result: &CheckResult) -> Option<Finding> {
    let finding = match result.detail_str(detail::MINIO_HEALTH)? {
        "no_write_quorum" => {
            let quorum = detail_u64(result, detail::WRITE_QUORUM)
                .map(|q| format!(" (it needs {q} drives online in each erasure set)"))
                .unwrap_or_default();
            let healing = detail_u64(result, detail::HEALING_DRIVES)
                .filter(|d| *d > 0)
                .map(|d| format!("{d} drives are healing. "))
                .unwrap_or_default();
            Finding::new(
                Severity::Error,
                "tool_unhealthy",
                format!("MinIO has no write quorum{quorum}"),
                format!(
                    "{healing}Evidence cannot be written until enough drives are back. {}",
                    result.message
                ),
            )
            .with_steps([
                "Find the offline nodes and drives.",
                "Bring them back or replace the failed drives; MinIO heals the new ones.",
                "Run the doctor again.",
            ])
            .with_api_call("mc admin info ALIAS")
            .with_doc_link(MINIO_ERASURE_DOC)
        }
        "initialising" => Finding::new(
            Severity::Error,
            "tool_unhealthy",
            match result.detail_str(detail::SERVER_STATUS) {
                Some(status) => format!("MinIO is still starting ({status})"),
                None => "MinIO is still starting".to_owned(),
            },
            result.message.clone(),
        )
        .with_steps([
            "Wait for the server to finish starting, then run the doctor again.",
            "If it stays in this state, check the server's logs (drives, IAM and bucket metadata \
             are loaded at start-up).",
        ])
        .with_api_call("mc admin info ALIAS")
        .with_doc_link(MINIO_HEALTH_DOC),
        "not_ready" => Finding::new(
            Severity::Error,
            "tool_unhealthy",
            "MinIO is not ready",
            result.message.clone(),
        )
        .with_steps([
            "Check the KMS and etcd the server is configured with, if any.",
            "Check the server's load and logs.",
        ])
        .with_doc_link(MINIO_HEALTH_DOC),
        "overloaded" => Finding::new(
            Severity::Error,
            "tool_unhealthy",
            "MinIO is overloaded",
            result.message.clone(),
        )
        .with_steps([
            "Its request queue is over capacity: check the load and the API request limits.",
            "Run the doctor again when the load has dropped.",
        ])
        .with_doc_link(MINIO_HEALTH_DOC),
        _ => return None,
    };
    Some(finding)
}
