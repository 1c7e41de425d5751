//! The providers' own credential steps, before (or instead of) the Distribution token flow:
//! ECR's `GetAuthorizationToken` (SigV4), Google's service-account JWT exchange for Artifact
//! Registry, and ACR's Entra exchange.

use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::aws::{AwsKeys, Scope, SignError, signed_request};
use crate::check::{Check, http_failure_message};
use crate::http::{HttpRequest, HttpResponse, status};
use pathops_core::{CheckResult, FailureCode};

use super::Step;

/// A Basic credential for the registry: who, and the password or token.
#[derive(Clone)]
pub(crate) struct Login {
    pub(crate) user: String,
    pub(crate) password: SecretString,
    /// Until when it may be reused (`None`: not cached).
    pub(crate) valid_until: Option<Instant>,
}

/// The region of an ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com`).
pub(crate) fn ecr_region(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels.iter().position(|l| *l == "ecr")?;
    let region = labels.get(at + 1)?;
    let before = at.checked_sub(1).and_then(|i| labels.get(i));
    (before == Some(&"dkr") && !region.is_empty()).then(|| (*region).to_owned())
}

/// The origin of an endpoint URL (empty when it has none: the call then fails as invalid).
fn origin_of(url: &str) -> String {
    super::origin(url).unwrap_or_default()
}

/// A token endpoint's refusal: a 400, 401 or 403 refuses the credential; anything else is an
/// answer PathOps does not understand.
fn refused(check: &Check<'_>, what: &str, response: &HttpResponse) -> CheckResult {
    let code = if matches!(response.status.as_u16(), 400 | 401 | 403) {
        FailureCode::Unauthenticated
    } else {
        FailureCode::InvalidResponse
    };
    check.failed(code, http_failure_message(what, response))
}

/// ECR: `GetAuthorizationToken` signed with SigV4 at `endpoint` (by default
/// `https://api.ecr.<region>.amazonaws.com/`), with the access key from the integration's
/// JSON secret. The token decodes to `AWS:<password>`, valid 12 hours: reused until 10
/// minutes before its `expiresAt`, and not cached when it is already past that on arrival.
pub(crate) async fn ecr_login(
    check: &Check<'_>,
    secret: Option<&SecretString>,
    region: &str,
    endpoint: &str,
    now: time::OffsetDateTime,
) -> Step<Login> {
    let Some(secret) = secret else {
        return Err(check.failed(
            FailureCode::SecretUnresolved,
            "an ECR integration needs its AWS access key behind the auth ref",
        ));
    };
    let keys = AwsKeys::from_secret(secret).ok_or_else(|| {
        check.failed(
            FailureCode::InvalidConfig,
            "the ECR secret must be JSON {\"access_key_id\", \"secret_access_key\", \
             \"session_token\"?}",
        )
    })?;
    let scope = Scope {
        region,
        service: "ecr",
        s3: false,
    };
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        (
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
        ),
    ];
    let request = signed_request(
        &keys,
        scope,
        reqwest::Method::POST,
        endpoint,
        &headers,
        b"{}".to_vec(),
        std::time::SystemTime::now(),
    )
    .map_err(|e| {
        check.failed(
            FailureCode::InvalidConfig,
            match e {
                SignError::Params => "cannot sign for this region",
                SignError::Request => "the ECR endpoint is not a URL",
                SignError::Sign => "the request could not be signed",
            },
        )
    })?;
    let response = check.send_to(&origin_of(endpoint), request).await?;
    if !response.status.is_success() {
        let kind = response
            .json::<Value>()
            .ok()
            .and_then(|v| v["__type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let kind = kind.rsplit('#').next().unwrap_or_default().to_owned();
        let code = match kind.as_str() {
            "AccessDeniedException" => FailureCode::PermissionDenied {
                missing_scope: Some("ecr:GetAuthorizationToken".to_owned()),
            },
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "IncompleteSignature" => FailureCode::Unauthenticated,
            _ if matches!(response.status.as_u16(), 400 | 403) => FailureCode::Unauthenticated,
            _ => status::default_failure(response.status, &response.headers, now)
                .unwrap_or(FailureCode::InvalidResponse),
        };
        return Err(check.failed(
            code,
            http_failure_message("ECR GetAuthorizationToken", &response),
        ));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        authorization_token: String,
        expires_at: Option<f64>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        authorization_data: Vec<Data>,
    }
    let invalid = || {
        check.failed(
            FailureCode::InvalidResponse,
            "ECR GetAuthorizationToken: not the documented answer",
        )
    };
    let answer: Answer = response.json().map_err(|_| invalid())?;
    let data = answer
        .authorization_data
        .into_iter()
        .next()
        .ok_or_else(invalid)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (user, password) = decoded.split_once(':').ok_or_else(invalid)?;
    let remaining = data
        .expires_at
        .map(|at| at - now.unix_timestamp() as f64 - 600.0)
        .unwrap_or(0.0);
    let valid_until = (remaining > 0.0)
        .then(|| Instant::now().checked_add(Duration::from_secs_f64(remaining.min(12.0 * 3600.0))))
        .flatten();
    Ok(Login {
        user: user.to_owned(),
        password: SecretString::from(password.to_owned()),
        valid_until,
    })
}

/// A Google service-account key, as Google's console downloads it.
#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
}

/// Artifact Registry with `_json_key` / `_json_key_base64`: a JWT assertion signed with the
/// service account's key, exchanged at `token_url` (by default Google's
/// `https://oauth2.googleapis.com/token`; the key's own `token_uri` is not followed, since
/// the key is tenant data) for an access token, used as `oauth2accesstoken`.
pub(crate) async fn google_login(
    check: &Check<'_>,
    secret: Option<&SecretString>,
    base64_encoded: bool,
    token_url: &str,
) -> Step<Login> {
    let Some(secret) = secret else {
        return Err(check.failed(
            FailureCode::SecretUnresolved,
            "`_json_key` needs the service-account key behind the auth ref",
        ));
    };
    let text = if base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(secret.expose_secret().trim().as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    } else {
        secret.expose_secret().to_owned()
    };
    let key: ServiceAccountKey = serde_json::from_str(&text).map_err(|_| {
        check.failed(
            FailureCode::InvalidConfig,
            "the secret is not a Google service-account key (client_email, private_key)",
        )
    })?;
    let signing =
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|_| {
            check.failed(
                FailureCode::InvalidConfig,
                "the service-account key's private_key is not an RSA PEM key",
            )
        })?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": key.client_email,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": token_url,
        "iat": now,
        "exp": now + 3600,
    });
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &signing,
    )
    .map_err(|_| check.failed(FailureCode::InvalidConfig, "cannot sign the JWT assertion"))?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion)
        .finish();
    let request = HttpRequest::post(token_url).secret_form(&SecretString::from(body));
    let response = check.send_to(&origin_of(token_url), request).await?;
    if response.status.as_u16() != 200 {
        return Err(refused(check, "Google's token endpoint", &response));
    }
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
        expires_in: Option<u64>,
    }
    let token: Token = response.json().map_err(|_| {
        check.failed(
            FailureCode::InvalidResponse,
            "Google's token endpoint: no access_token",
        )
    })?;
    let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
    Ok(Login {
        user: "oauth2accesstoken".to_owned(),
        password: SecretString::from(token.access_token),
        valid_until: Instant::now().checked_add(lifetime.saturating_sub(Duration::from_secs(60))),
    })
}

/// ACR with an Entra access token: `POST /oauth2/exchange` for a refresh token, then `POST
/// /oauth2/token` for an access token of `scope`. Both calls go to the registry's own origin.
pub(crate) async fn acr_token(
    check: &Check<'_>,
    secret: Option<&SecretString>,
    registry_origin: &str,
    service: &str,
    scope: &str,
) -> Step<(SecretString, Duration)> {
    let Some(entra) = secret else {
        return Err(check.failed(
            FailureCode::SecretUnresolved,
            "`auth: entra` needs an Entra access token behind the auth ref",
        ));
    };
    let form = |pairs: &[(&str, &str)]| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        SecretString::from(s.finish())
    };
    let exchange =
        HttpRequest::post(format!("{registry_origin}/oauth2/exchange")).secret_form(&form(&[
            ("grant_type", "access_token"),
            ("service", service),
            ("access_token", entra.expose_secret()),
        ]));
    let response = check.send_to(registry_origin, exchange).await?;
    if !response.status.is_success() {
        return Err(refused(check, "POST /oauth2/exchange", &response));
    }
    let refresh = response
        .json::<Value>()
        .ok()
        .and_then(|v| v["refresh_token"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            check.failed(
                FailureCode::InvalidResponse,
                "POST /oauth2/exchange: no refresh_token",
            )
        })?;
    let token = HttpRequest::post(format!("{registry_origin}/oauth2/token")).secret_form(&form(&[
        ("grant_type", "refresh_token"),
        ("service", service),
        ("scope", scope),
        ("refresh_token", &refresh),
    ]));
    let response = check.send_to(registry_origin, token).await?;
    if !response.status.is_success() {
        return Err(refused(check, "POST /oauth2/token", &response));
    }
    let access = response
        .json::<Value>()
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            check.failed(
                FailureCode::InvalidResponse,
                "POST /oauth2/token: no access_token",
            )
        })?;
    // ACR access tokens last 75 minutes; the answer does not say.
    Ok((SecretString::from(access), Duration::from_secs(60 * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_ecr_host() {
        assert_eq!(
            ecr_region("012345678910.dkr.ecr.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(ecr_region("ecr.example.com"), None);
        assert_eq!(ecr_region("registry.example.com"), None);
        assert_eq!(ecr_region("x.dkr.ecr"), None);
    }
}
