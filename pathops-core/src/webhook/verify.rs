//! Signature and token verification over the raw body bytes, constant-time, with several
//! valid secrets at once so a secret can be rotated without downtime.
//!
//! - HMAC signatures (GitHub, Gitea/Forgejo, Bitbucket, Standard Webhooks, the direct-ping proof) are
//!   decoded from hex or base64 and checked with [`Mac::verify_slice`]; a signature that does
//!   not decode to a MAC is [`VerifyError::MalformedHeader`], never a string comparison.
//! - GitLab tokens are compared exactly as sent, through SHA-256 digests of both sides, so the
//!   comparison takes the same time whatever the secret's length.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::DeliveryKind;
use super::Headers;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was rejected. The variants say what kind of problem it was and never which
/// secret came close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is missing.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but malformed.
    #[error("malformed header {0}")]
    MalformedHeader(&'static str),
    /// The token or signature matches no configured secret.
    #[error("signature does not match")]
    BadSignature,
    /// The signed timestamp is outside the tolerance.
    #[error("timestamp outside the accepted window")]
    Expired,
    /// This delivery id was already accepted inside the replay window.
    #[error("delivery already received")]
    Replay,
    /// The replay guard is full: as many deliveries as it can hold were accepted inside its
    /// window, so this one cannot be checked and is refused (a resend later succeeds).
    #[error("too many deliveries inside the replay window")]
    ReplayCapacity,
    /// The body is larger than the cap.
    #[error("body larger than {max} bytes")]
    TooLarge {
        /// The cap in bytes.
        max: usize,
    },
    /// The body is not the JSON document the provider sends.
    #[error("body is not a valid delivery payload")]
    MalformedBody,
    /// No secret is configured for this delivery, so it cannot be verified.
    #[error("no secret configured for this delivery")]
    NoSecret,
}

/// The secrets a delivery may be signed with (current and, during a rotation, previous ones).
/// Never printed.
#[derive(Clone, Default)]
pub struct WebhookSecrets(Vec<SecretString>);

impl WebhookSecrets {
    /// Secrets from a list.
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        Self(secrets.into_iter().collect())
    }

    /// One secret.
    pub fn single(secret: SecretString) -> Self {
        Self(vec![secret])
    }

    /// Adds a secret.
    pub fn push(&mut self, secret: SecretString) {
        self.0.push(secret);
    }

    /// Appends every secret of `other`.
    pub fn extend(&mut self, other: &WebhookSecrets) {
        self.0.extend(other.0.iter().cloned());
    }

    /// Whether there is no secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of secrets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> impl Iterator<Item = &SecretString> {
        self.0.iter()
    }
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets([REDACTED; {}])", self.0.len())
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    keyed_mac(key, parts).finalize().into_bytes().to_vec()
}

fn keyed_mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac
}

/// `Ok` when `given` (the decoded MAC bytes) is the HMAC-SHA256 of `parts` under any of
/// `secrets`. Each candidate is checked with [`Mac::verify_slice`] (constant-time), and every
/// secret is tried, so timing does not reveal which one matched.
fn matches_hmac(
    given: &[u8],
    secrets: &WebhookSecrets,
    parts: &[&[u8]],
) -> Result<(), VerifyError> {
    let mut matched = false;
    for secret in secrets.iter() {
        matched |= keyed_mac(secret.expose_secret().as_bytes(), parts)
            .verify_slice(given)
            .is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Decodes a hex HMAC-SHA256 (32 bytes, either case). Anything else is a malformed `header`.
fn decode_hex_mac(value: &str, header: &'static str) -> Result<[u8; 32], VerifyError> {
    let mut mac = [0u8; 32];
    const_hex::decode_to_slice(value, &mut mac)
        .map_err(|_| VerifyError::MalformedHeader(header))?;
    Ok(mac)
}

fn lower_hex(bytes: &[u8]) -> String {
    crate::audit::hex(bytes)
}

/// GitLab: `X-Gitlab-Token` equals one of the secrets, byte for byte (surrounding whitespace
/// is part of the token, so `" token "` is not `"token"`).
///
/// Both sides are hashed with SHA-256 first and the 32-byte digests compared in constant
/// time, so neither the comparison nor its timing depends on the secret's length; every
/// secret is compared, so timing does not reveal which one matched either.
pub fn verify_gitlab_token(headers: &Headers, secrets: &WebhookSecrets) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let token = headers
        .get_raw("x-gitlab-token")
        .ok_or(VerifyError::MissingHeader("X-Gitlab-Token"))?;
    let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut matched = subtle::Choice::from(0u8);
    for secret in secrets.iter() {
        let expected: [u8; 32] = Sha256::digest(secret.expose_secret().as_bytes()).into();
        matched |= expected[..].ct_eq(&given[..]);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// GitHub: `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn verify_github_signature(
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<(), VerifyError> {
    verify_sha256_prefixed(headers, body, secrets, "X-Hub-Signature-256")
}

/// Gitea / Forgejo: `X-Forgejo-Signature` or `X-Gitea-Signature`, the bare lowercase hex
/// HMAC-SHA256 of the body (Forgejo's header is preferred when present).
pub fn verify_gitea_signature(
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let (given, header) = match headers.get("x-forgejo-signature") {
        Some(v) => (v, "X-Forgejo-Signature"),
        None => (
            headers
                .get("x-gitea-signature")
                .ok_or(VerifyError::MissingHeader("X-Gitea-Signature"))?,
            "X-Gitea-Signature",
        ),
    };
    let given = decode_hex_mac(given, header)?;
    matches_hmac(&given, secrets, &[body])
}

/// Bitbucket Cloud and Data Center: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
///
/// SHA-256 under the un-suffixed header name (GitHub puts SHA-1 there and SHA-256 under
/// `X-Hub-Signature-256`). Data Center's hooks choose the algorithm and send its name as the
/// prefix; only `sha256` (its default, and Cloud's only one) is accepted, so a `sha1=` value is
/// a malformed header, never a weaker check. A hook without a secret sends no header at all.
pub fn verify_bitbucket_signature(
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<(), VerifyError> {
    verify_sha256_prefixed(headers, body, secrets, "X-Hub-Signature")
}

/// `<header>: sha256=<lowercase hex HMAC-SHA256(secret, body)>` (GitHub's and Bitbucket's
/// format, under different header names).
fn verify_sha256_prefixed(
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
    header: &'static str,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let value = headers
        .get(header)
        .ok_or(VerifyError::MissingHeader(header))?;
    let given = value
        .strip_prefix("sha256=")
        .ok_or(VerifyError::MalformedHeader(header))?;
    let given = decode_hex_mac(given, header)?;
    matches_hmac(&given, secrets, &[body])
}

/// Azure DevOps service hooks: the Web Hooks consumer's "Basic authentication" sends
/// `Authorization: Basic base64(<user name>:<password>)`; the password must be one of the
/// secrets (the user name is not secret and not checked). Compared like GitLab's token:
/// SHA-256 digests of both sides in constant time, every secret tried.
///
/// Why Basic credentials rather than a custom header on the subscription: Azure DevOps keeps
/// the password as a secret input (masked as `********` when the subscription is read),
/// whereas HTTP headers are plain configuration anyone who can read the subscription sees.
pub fn verify_azure_devops_basic(
    headers: &Headers,
    secrets: &WebhookSecrets,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let value = headers
        .get_raw("authorization")
        .ok_or(VerifyError::MissingHeader("Authorization"))?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or(VerifyError::MalformedHeader("Authorization"))?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| VerifyError::MalformedHeader("Authorization"))?;
    let (_, password) = decoded
        .iter()
        .position(|b| *b == b':')
        .map(|i| decoded.split_at(i))
        .map(|(user, rest)| (user, &rest[1..]))
        .ok_or(VerifyError::MalformedHeader("Authorization"))?;
    let given: [u8; 32] = Sha256::digest(password).into();
    let mut matched = subtle::Choice::from(0u8);
    for secret in secrets.iter() {
        let expected: [u8; 32] = Sha256::digest(secret.expose_secret().as_bytes()).into();
        matched |= expected[..].ct_eq(&given[..]);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Standard Webhooks (as GitLab's signing tokens send them): `webhook-id`,
/// `webhook-timestamp` (Unix seconds, within `tolerance` of `now`) and `webhook-signature`, a
/// space-separated list of `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`. Each secret
/// is `whsec_<base64 key>` (or a raw key without the prefix).
pub fn verify_standard_webhook(
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let id = headers
        .get("webhook-id")
        .ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp = headers
        .get("webhook-timestamp")
        .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signatures = headers
        .get("webhook-signature")
        .ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::MalformedHeader("webhook-timestamp"))?;
    let age = (now.unix_timestamp() - seconds).unsigned_abs();
    if age > tolerance.as_secs() {
        return Err(VerifyError::Expired);
    }
    let given: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    if given.is_empty() {
        return Err(VerifyError::MalformedHeader("webhook-signature"));
    }
    let mut matched = false;
    for secret in secrets.iter() {
        let raw = secret.expose_secret();
        let key = match raw.strip_prefix("whsec_") {
            Some(b64) => match STANDARD.decode(b64) {
                Ok(key) => key,
                Err(_) => continue,
            },
            None => raw.as_bytes().to_vec(),
        };
        let mac = keyed_mac(
            &key,
            &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
        );
        for signature in &given {
            matched |= mac.clone().verify_slice(signature).is_ok();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// PathOps direct ping: `X-PathOps-Proof: v1=<lowercase hex HMAC-SHA256(secret,
/// "<challenge_id>.<nonce>")>` over the `challenge_id` and `nonce` of the JSON body.
pub fn verify_direct_ping(
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let proof = headers
        .get(crate::directping::PROOF_HEADER)
        .ok_or(VerifyError::MissingHeader(crate::directping::PROOF_HEADER))?;
    let given = proof
        .strip_prefix("v1=")
        .ok_or(VerifyError::MalformedHeader(
            crate::directping::PROOF_HEADER,
        ))?;
    let given = decode_hex_mac(given, crate::directping::PROOF_HEADER)?;
    let callback: crate::directping::PingCallback =
        serde_json::from_slice(body).map_err(|_| VerifyError::MalformedBody)?;
    matches_hmac(
        &given,
        secrets,
        &[
            callback.challenge_id.as_bytes(),
            b".",
            callback.nonce.as_bytes(),
        ],
    )
}

fn direct_ping_proof(secret: &[u8], challenge_id: &str, nonce: &str) -> String {
    lower_hex(&hmac_sha256(
        secret,
        &[challenge_id.as_bytes(), b".", nonce.as_bytes()],
    ))
}

/// Verifies a delivery of `kind`. GitLab deliveries carrying Standard Webhooks headers are
/// verified both ways (token and signature) when both are present.
pub fn verify(
    kind: DeliveryKind,
    headers: &Headers,
    body: &[u8],
    secrets: &WebhookSecrets,
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    match kind {
        DeliveryKind::GitLab => {
            let signed = headers.get("webhook-signature").is_some();
            let has_token = headers.get_raw("x-gitlab-token").is_some();
            if signed {
                verify_standard_webhook(headers, body, secrets, now, tolerance)?;
            }
            if has_token || !signed {
                verify_gitlab_token(headers, secrets)?;
            }
            Ok(())
        }
        DeliveryKind::GitHub => verify_github_signature(headers, body, secrets),
        DeliveryKind::Gitea => verify_gitea_signature(headers, body, secrets),
        DeliveryKind::Bitbucket => verify_bitbucket_signature(headers, body, secrets),
        DeliveryKind::AzureDevOps => verify_azure_devops_basic(headers, secrets),
        DeliveryKind::StandardWebhooks => {
            verify_standard_webhook(headers, body, secrets, now, tolerance)
        }
        DeliveryKind::DirectPing => verify_direct_ping(headers, body, secrets),
    }
}

/// Signing helpers for tests and fake servers: what a provider would send.
pub mod sign {
    use super::*;

    /// `sha256=<hex>` as GitHub sends it.
    pub fn github(secret: &str, body: &[u8]) -> String {
        format!(
            "sha256={}",
            lower_hex(&hmac_sha256(secret.as_bytes(), &[body]))
        )
    }

    /// `sha256=<hex>` under `X-Hub-Signature`, as Bitbucket Cloud and Data Center send it.
    pub fn bitbucket(secret: &str, body: &[u8]) -> String {
        github(secret, body)
    }

    /// `Basic base64(<user>:<password>)`, as an Azure DevOps Web Hooks subscription with
    /// Basic authentication sends it.
    pub fn azure_devops_basic(user: &str, password: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
    }

    /// Bare hex as Gitea sends it.
    pub fn gitea(secret: &str, body: &[u8]) -> String {
        lower_hex(&hmac_sha256(secret.as_bytes(), &[body]))
    }

    /// `v1=<hex>`, the direct-ping proof a tool sends back.
    pub fn direct_ping(secret: &str, challenge_id: &str, nonce: &str) -> String {
        format!(
            "v1={}",
            direct_ping_proof(secret.as_bytes(), challenge_id, nonce)
        )
    }

    /// `v1,<base64>` for a `whsec_` secret, as Standard Webhooks senders do.
    pub fn standard(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = match secret.strip_prefix("whsec_") {
            Some(b64) => STANDARD.decode(b64).unwrap_or_default(),
            None => secret.as_bytes().to_vec(),
        };
        let ts = timestamp.to_string();
        let mac = hmac_sha256(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
        format!("v1,{}", STANDARD.encode(mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn secrets(list: &[&str]) -> WebhookSecrets {
        WebhookSecrets::new(list.iter().map(|s| SecretString::from(s.to_string())))
    }

    const BODY: &[u8] = br#"{"zen":"Design for failure.","hook_id":42}"#;

    #[test]
    fn gitlab_tokens_with_rotation() {
        let h = Headers::from_pairs([("X-Gitlab-Token", "new-token")]);
        assert_eq!(
            verify_gitlab_token(&h, &secrets(&["old-token", "new-token"])),
            Ok(())
        );
        assert_eq!(
            verify_gitlab_token(&h, &secrets(&["old-token"])),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_gitlab_token(&Headers::default(), &secrets(&["x"])),
            Err(VerifyError::MissingHeader("X-Gitlab-Token"))
        );
        assert_eq!(
            verify_gitlab_token(&h, &secrets(&[])),
            Err(VerifyError::NoSecret)
        );
        // A prefix of the secret is not the secret.
        let prefix = Headers::from_pairs([("X-Gitlab-Token", "new-tok")]);
        assert_eq!(
            verify_gitlab_token(&prefix, &secrets(&["new-token"])),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn github_signatures() {
        let sig = sign::github("s3cret", BODY);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let h = Headers::from_pairs([("X-Hub-Signature-256", sig.as_str())]);
        assert_eq!(
            verify_github_signature(&h, BODY, &secrets(&["other", "s3cret"])),
            Ok(())
        );
        assert_eq!(
            verify_github_signature(&h, b"tampered", &secrets(&["s3cret"])),
            Err(VerifyError::BadSignature)
        );
        let bare = Headers::from_pairs([("X-Hub-Signature-256", &sig[7..])]);
        assert_eq!(
            verify_github_signature(&bare, BODY, &secrets(&["s3cret"])),
            Err(VerifyError::MalformedHeader("X-Hub-Signature-256"))
        );
        // The hex is decoded, so its case does not matter: the bytes are the same MAC.
        let upper = Headers::from_pairs([(
            "X-Hub-Signature-256",
            sig.to_uppercase().replace("SHA256=", "sha256="),
        )]);
        assert_eq!(
            verify_github_signature(&upper, BODY, &secrets(&["s3cret"])),
            Ok(())
        );
        // Not hex, or not 32 bytes of it: a typed rejection, not a failed comparison.
        for bad in [
            format!("sha256={}", "zz".repeat(32)),
            format!("sha256={}", &sig[7..69]),
            format!("{sig}00"),
            "sha256=".to_owned(),
        ] {
            let h = Headers::from_pairs([("X-Hub-Signature-256", bad.as_str())]);
            assert_eq!(
                verify_github_signature(&h, BODY, &secrets(&["s3cret"])),
                Err(VerifyError::MalformedHeader("X-Hub-Signature-256")),
                "{bad}"
            );
        }
    }

    #[test]
    fn gitlab_tokens_are_compared_exactly_as_sent() {
        let s = secrets(&["hook-token"]);
        for sent in [
            " hook-token",
            "hook-token ",
            " hook-token ",
            "\thook-token",
            "",
        ] {
            let h = Headers::from_pairs([("X-Gitlab-Token", sent)]);
            assert_eq!(
                verify_gitlab_token(&h, &s),
                Err(VerifyError::BadSignature),
                "{sent:?}"
            );
        }
        // A secret configured with spaces needs them sent.
        let spaced = secrets(&[" hook-token "]);
        let h = Headers::from_pairs([("X-Gitlab-Token", " hook-token ")]);
        assert_eq!(verify_gitlab_token(&h, &spaced), Ok(()));
        // Longer or shorter than the secret: refused the same way.
        for sent in ["hook-token-and-more", "h"] {
            let h = Headers::from_pairs([("X-Gitlab-Token", sent)]);
            assert_eq!(verify_gitlab_token(&h, &s), Err(VerifyError::BadSignature));
        }
    }

    #[test]
    fn gitea_and_forgejo_signatures() {
        let sig = sign::gitea("k", BODY);
        let gitea = Headers::from_pairs([("X-Gitea-Signature", sig.as_str())]);
        assert_eq!(
            verify_gitea_signature(&gitea, BODY, &secrets(&["k"])),
            Ok(())
        );
        let forgejo = Headers::from_pairs([
            ("X-Forgejo-Signature", sig.as_str()),
            ("X-Gitea-Signature", "bogus"),
        ]);
        assert_eq!(
            verify_gitea_signature(&forgejo, BODY, &secrets(&["k"])),
            Ok(()),
            "Forgejo's header wins"
        );
        assert_eq!(
            verify_gitea_signature(&gitea, BODY, &secrets(&["x"])),
            Err(VerifyError::BadSignature)
        );
        let not_hex = Headers::from_pairs([("X-Forgejo-Signature", "not hex")]);
        assert_eq!(
            verify_gitea_signature(&not_hex, BODY, &secrets(&["k"])),
            Err(VerifyError::MalformedHeader("X-Forgejo-Signature"))
        );
    }

    /// A Gitea push body (pretty-printed with two spaces, as Gitea's `json.MarshalIndent`
    /// writes it) and its MACs, computed independently with Python's `hmac`:
    ///
    /// ```text
    /// python3 -c 'import hmac, hashlib; b = b"{\n  \"ref\": \"refs/heads/main\",\n  \"repository\": {\n    \"id\": 100,\n    \"full_name\": \"acme/platform\"\n  }\n}"; print(hmac.new(b"gitea-hook-secret", b, hashlib.sha256).hexdigest(), hmac.new(b"previous-secret", b, hashlib.sha256).hexdigest())'
    /// ```
    const GITEA_BODY: &[u8] = b"{\n  \"ref\": \"refs/heads/main\",\n  \"repository\": {\n    \"id\": 100,\n    \"full_name\": \"acme/platform\"\n  }\n}";
    const GITEA_SIG: &str = "028e5ebb9908c4a396c24042c9eb97d4bb47110ae64234cab8f6ebddcb7b7e1b";
    const GITEA_SIG_PREVIOUS: &str =
        "00d8918cf3c7c59dffeb7723faed866437c544b3ec188f68069659b29517b039";

    #[test]
    fn gitea_signatures_match_an_independent_implementation() {
        assert_eq!(sign::gitea("gitea-hook-secret", GITEA_BODY), GITEA_SIG);
        assert_eq!(
            sign::gitea("previous-secret", GITEA_BODY),
            GITEA_SIG_PREVIOUS
        );
        let h = |sig: &str| Headers::from_pairs([("X-Gitea-Signature", sig)]);
        let current = secrets(&["gitea-hook-secret"]);
        assert_eq!(
            verify_gitea_signature(&h(GITEA_SIG), GITEA_BODY, &current),
            Ok(())
        );
        // Rotation: a delivery signed with the previous secret verifies while both are
        // configured, and no longer once the previous one is dropped.
        let rotating = secrets(&["gitea-hook-secret", "previous-secret"]);
        assert_eq!(
            verify_gitea_signature(&h(GITEA_SIG_PREVIOUS), GITEA_BODY, &rotating),
            Ok(())
        );
        assert_eq!(
            verify_gitea_signature(&h(GITEA_SIG_PREVIOUS), GITEA_BODY, &current),
            Err(VerifyError::BadSignature)
        );
        // Over the raw bytes: the same JSON written compactly is another body.
        let compact =
            br#"{"ref":"refs/heads/main","repository":{"id":100,"full_name":"acme/platform"}}"#;
        assert_eq!(
            verify_gitea_signature(&h(GITEA_SIG), compact, &current),
            Err(VerifyError::BadSignature)
        );
        // Bare hex, never GitHub's `sha256=` prefix.
        let prefixed = format!("sha256={GITEA_SIG}");
        assert_eq!(
            verify_gitea_signature(&h(&prefixed), GITEA_BODY, &current),
            Err(VerifyError::MalformedHeader("X-Gitea-Signature"))
        );
        // A hook without a secret sends the header empty: nothing to verify.
        assert_eq!(
            verify_gitea_signature(&h(""), GITEA_BODY, &current),
            Err(VerifyError::MissingHeader("X-Gitea-Signature"))
        );
        // Forgejo's copy of the header is the one read when present; the same value in
        // both (as Forgejo sends it) verifies, a wrong Forgejo value is not rescued by a
        // right Gitea one.
        let both = Headers::from_pairs([
            ("X-Forgejo-Signature", GITEA_SIG),
            ("X-Gitea-Signature", GITEA_SIG),
        ]);
        assert_eq!(verify_gitea_signature(&both, GITEA_BODY, &current), Ok(()));
        let wrong_forgejo = Headers::from_pairs([
            ("X-Forgejo-Signature", GITEA_SIG_PREVIOUS),
            ("X-Gitea-Signature", GITEA_SIG),
        ]);
        assert_eq!(
            verify_gitea_signature(&wrong_forgejo, GITEA_BODY, &current),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(
                DeliveryKind::Gitea,
                &h(GITEA_SIG),
                GITEA_BODY,
                &current,
                datetime!(2026-01-01 0:00 UTC),
                Duration::from_secs(300)
            ),
            Ok(())
        );
    }

    /// A Bitbucket Data Center `repo:refs_changed` body (compact, as Bitbucket writes it) and
    /// its MACs, computed independently with Python's `hmac`:
    ///
    /// ```text
    /// python3 -c 'import hmac, hashlib; b = b"{\"eventKey\":\"repo:refs_changed\",\"date\":\"2026-12-06T21:00:00+0000\",\"repository\":{\"slug\":\"platform\",\"id\":42,\"project\":{\"key\":\"ACME\"}}}"; print(hmac.new(b"bitbucket-hook-secret", b, hashlib.sha256).hexdigest(), hmac.new(b"previous-secret", b, hashlib.sha256).hexdigest())'
    /// python3 -c 'import hmac, hashlib; b = b"{\"test\": true}"; print(hmac.new(b"bitbucket-hook-secret", b, hashlib.sha256).hexdigest())'
    /// ```
    const BITBUCKET_BODY: &[u8] = br#"{"eventKey":"repo:refs_changed","date":"2026-12-06T21:00:00+0000","repository":{"slug":"platform","id":42,"project":{"key":"ACME"}}}"#;
    const BITBUCKET_SIG: &str =
        "sha256=c64082cb03c1f8be07aac949615afc545283904cca6f64b312c27311b68cae28";
    const BITBUCKET_SIG_PREVIOUS: &str =
        "sha256=6739f60e87bf2ae47ae13e5b52157a30e660f14f42d83179c6fb98180f07864c";
    /// Data Center's test connection body (`diagnostics:ping`).
    const BITBUCKET_PING: &[u8] = br#"{"test": true}"#;
    const BITBUCKET_PING_SIG: &str =
        "sha256=3c6052ccb3317523f83229f4d47e57a54f8c62f3989f502cabddadbf82bfe6b0";

    #[test]
    fn bitbucket_signatures_match_an_independent_implementation() {
        assert_eq!(
            sign::bitbucket("bitbucket-hook-secret", BITBUCKET_BODY),
            BITBUCKET_SIG
        );
        assert_eq!(
            sign::bitbucket("previous-secret", BITBUCKET_BODY),
            BITBUCKET_SIG_PREVIOUS
        );
        assert_eq!(
            sign::bitbucket("bitbucket-hook-secret", BITBUCKET_PING),
            BITBUCKET_PING_SIG
        );
        let h = |sig: &str| Headers::from_pairs([("X-Hub-Signature", sig)]);
        let current = secrets(&["bitbucket-hook-secret"]);
        let check = |headers: &Headers, body: &[u8], secrets: &WebhookSecrets| {
            verify(
                DeliveryKind::Bitbucket,
                headers,
                body,
                secrets,
                datetime!(2026-12-06 21:00 UTC),
                Duration::from_secs(300),
            )
        };
        assert_eq!(check(&h(BITBUCKET_SIG), BITBUCKET_BODY, &current), Ok(()));
        assert_eq!(
            check(&h(BITBUCKET_PING_SIG), BITBUCKET_PING, &current),
            Ok(())
        );
        // Rotation: the previous secret verifies while both are configured, not after.
        let rotating = secrets(&["bitbucket-hook-secret", "previous-secret"]);
        assert_eq!(
            check(&h(BITBUCKET_SIG_PREVIOUS), BITBUCKET_BODY, &rotating),
            Ok(())
        );
        assert_eq!(
            check(&h(BITBUCKET_SIG_PREVIOUS), BITBUCKET_BODY, &current),
            Err(VerifyError::BadSignature)
        );
        // Over the raw bytes: the ping written without its space is another body.
        assert_eq!(
            check(&h(BITBUCKET_PING_SIG), br#"{"test":true}"#, &current),
            Err(VerifyError::BadSignature)
        );
        // The un-suffixed header: GitHub's `X-Hub-Signature-256` is not read for Bitbucket.
        let github_style = Headers::from_pairs([("X-Hub-Signature-256", BITBUCKET_SIG)]);
        assert_eq!(
            check(&github_style, BITBUCKET_BODY, &current),
            Err(VerifyError::MissingHeader("X-Hub-Signature"))
        );
        // No secret on the hook: no header, refused (never an unsigned pass).
        assert_eq!(
            check(&Headers::default(), BITBUCKET_PING, &current),
            Err(VerifyError::MissingHeader("X-Hub-Signature"))
        );
        // Bare hex, or another algorithm's prefix: malformed, not a weaker comparison.
        for bad in [
            BITBUCKET_SIG.trim_start_matches("sha256="),
            "sha1=0123456789abcdef0123456789abcdef01234567",
            "sha256=zz",
        ] {
            assert_eq!(
                check(&h(bad), BITBUCKET_BODY, &current),
                Err(VerifyError::MalformedHeader("X-Hub-Signature")),
                "{bad}"
            );
        }
        assert_eq!(
            check(&h(BITBUCKET_SIG), BITBUCKET_BODY, &secrets(&[])),
            Err(VerifyError::NoSecret)
        );
    }

    /// The header values were computed independently with Python's `base64`:
    ///
    /// ```text
    /// python3 -c 'import base64; print(base64.b64encode(b"pathops:azdo-hook-secret").decode(), base64.b64encode(b"pathops:previous").decode(), base64.b64encode(b"nopassword").decode())'
    /// ```
    #[test]
    fn azure_devops_basic_credentials_with_rotation() {
        const CURRENT: &str = "Basic cGF0aG9wczphemRvLWhvb2stc2VjcmV0";
        const PREVIOUS: &str = "Basic cGF0aG9wczpwcmV2aW91cw==";
        assert_eq!(
            sign::azure_devops_basic("pathops", "azdo-hook-secret"),
            CURRENT
        );
        let h = |v: &str| Headers::from_pairs([("Authorization", v)]);
        let check = |v: &str, s: &[&str]| verify_azure_devops_basic(&h(v), &secrets(s));
        assert_eq!(check(CURRENT, &["azdo-hook-secret"]), Ok(()));
        assert_eq!(check(PREVIOUS, &["azdo-hook-secret", "previous"]), Ok(()));
        assert_eq!(
            check(PREVIOUS, &["azdo-hook-secret"]),
            Err(VerifyError::BadSignature)
        );
        // The user name is not the secret.
        assert_eq!(
            check(
                &sign::azure_devops_basic("azdo-hook-secret", "x"),
                &["azdo-hook-secret"]
            ),
            Err(VerifyError::BadSignature)
        );
        // Not Basic, not base64, no colon: malformed; no header: missing.
        for bad in ["Bearer cGF0aG9wcw==", "Basic !!!", "Basic bm9wYXNzd29yZA=="] {
            assert_eq!(
                check(bad, &["azdo-hook-secret"]),
                Err(VerifyError::MalformedHeader("Authorization")),
                "{bad}"
            );
        }
        assert_eq!(
            verify(
                DeliveryKind::AzureDevOps,
                &Headers::default(),
                b"{}",
                &secrets(&["x"]),
                datetime!(2026-12-06 21:00 UTC),
                Duration::from_secs(300)
            ),
            Err(VerifyError::MissingHeader("Authorization"))
        );
    }

    #[test]
    fn standard_webhooks_with_tolerance_and_multiple_signatures() {
        let secret = format!(
            "whsec_{}",
            STANDARD.encode(b"0123456789abcdef0123456789abcdef")
        );
        let now = datetime!(2026-11-21 12:00 UTC);
        let ts = now.unix_timestamp();
        let good = sign::standard(&secret, "msg_1", ts, BODY);
        let h = |sig: &str, ts: i64| {
            Headers::from_pairs([
                ("webhook-id", "msg_1".to_owned()),
                ("webhook-timestamp", ts.to_string()),
                ("webhook-signature", sig.to_owned()),
            ])
        };
        let tol = Duration::from_secs(300);
        let s = secrets(&[&secret]);
        assert_eq!(
            verify_standard_webhook(&h(&good, ts), BODY, &s, now, tol),
            Ok(())
        );
        let rotated = format!("v1,AAAA {good}");
        assert_eq!(
            verify_standard_webhook(&h(&rotated, ts), BODY, &s, now, tol),
            Ok(())
        );
        assert_eq!(
            verify_standard_webhook(&h(&good, ts), b"x", &s, now, tol),
            Err(VerifyError::BadSignature)
        );
        let old = ts - 301;
        let old_sig = sign::standard(&secret, "msg_1", old, BODY);
        assert_eq!(
            verify_standard_webhook(&h(&old_sig, old), BODY, &s, now, tol),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify_standard_webhook(&h("v2,abc", ts), BODY, &s, now, tol),
            Err(VerifyError::MalformedHeader("webhook-signature"))
        );
        assert_eq!(
            verify_standard_webhook(
                &h(&good, ts).clone(),
                BODY,
                &secrets(&["whsec_!!!"]),
                now,
                tol
            ),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = secrets(&["SENTINEL-webhook-secret"]);
        assert_eq!(format!("{s:?}"), "WebhookSecrets([REDACTED; 1])");
    }
}
