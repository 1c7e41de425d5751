//! moto's server (`moto_server`, from PyPI's `moto[server]`) as a real AWS for tests: IAM,
//! ECR and S3 with SigV4 signatures checked, started per test on `127.0.0.1`.
//!
//! Started with `INITIAL_NO_AUTH_ACTION_COUNT=<n>`, moto serves its first `n` calls
//! without checking credentials, which is how a test creates its IAM users, access keys,
//! policies and buckets; every later call is authenticated and authorised (a wrong secret is
//! `403 SignatureDoesNotMatch`, an unknown key `403 InvalidAccessKeyId`, a user without a
//! policy `403 AccessDenied`). The budget is per process, so a server per test keeps the
//! provisioning deterministic.
//!
//! The binary comes from [`BIN_VAR`] (`PATHOPS_TEST_MOTO_BIN`, which CI exports), read
//! through [`service_url`](crate::services::service_url): unset, a test skips (and fails in
//! CI).
//!
//! Behaviour worth knowing, as observed against moto 5: it does not enforce regions (a
//! request signed for any region is served, and `HEAD /<bucket>` reports the bucket's
//! region in `x-amz-bucket-region`); it authorises `HEAD /<bucket>` as the action
//! `s3:HeadBucket` (AWS checks `s3:ListBucket`); with authentication on, a request without
//! a signature answers 500.
//!
//! ```no_run
//! # async fn demo() {
//! use pathops_testkit::moto::Moto;
//! let Some(bin) = pathops_testkit::moto::moto_bin() else { return };
//! let moto = Moto::start(&bin, 4).await; // 3 calls for the user, 1 for the bucket
//! let key = moto.iam_user("ci", Some(serde_json::json!({"Version": "2012-10-17",
//!     "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))).await;
//! moto.create_bucket("evidence", "us-east-1").await;
//! println!("{} has {}", moto.url(), key.access_key_id);
//! # }
//! ```

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The variable naming the `moto_server` binary.
pub const BIN_VAR: &str = "PATHOPS_TEST_MOTO_BIN";

/// The keys every free (unauthenticated) call is signed with; moto does not check them.
pub const BOOTSTRAP_KEYS: (&str, &str) = ("bootstrap", "bootstrap");

/// The `moto_server` binary, or `None` (skipping) when [`BIN_VAR`] is unset.
pub fn moto_bin() -> Option<String> {
    crate::services::service_url(BIN_VAR)
}

/// An IAM access key moto issued. `Debug` omits the secret.
#[derive(Clone)]
pub struct AccessKey {
    /// The access key id (`AKIA…`).
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    /// `(id, secret)`, as [`Moto::call`] takes it.
    pub fn pair(&self) -> (&str, &str) {
        (&self.access_key_id, &self.secret_access_key)
    }

    /// The JSON secret an AWS-signed integration keeps behind its auth ref.
    pub fn secret_json(&self) -> String {
        serde_json::json!({
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        })
        .to_string()
    }
}

/// A running moto server, with the first `free` calls unauthenticated; killed on drop.
#[derive(Debug)]
pub struct Moto {
    url: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of element `tag` in an XML answer.
fn between(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

impl Moto {
    /// Starts `bin` on a free loopback port with `INITIAL_NO_AUTH_ACTION_COUNT=free` and waits
    /// (up to 30 s) until it answers. Panics when it cannot start.
    pub async fn start(bin: &str, free: u32) -> Self {
        let port = crate::fake::refused_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", free.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while reqwest::get(format!("{url}/moto-api/")).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { url, child }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `method url` with `headers` and `body`, signed with SigV4 for `service` in
    /// `region` with `keys` (S3's settings for `s3`: the payload hash header, the path as
    /// sent); returns the status, the headers and the body text.
    #[allow(clippy::too_many_arguments)]
    pub async fn signed(
        &self,
        method: &str,
        url: &str,
        service: &str,
        region: &str,
        keys: (&str, &str),
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let identity =
            aws_credential_types::Credentials::new(keys.0, keys.1, None, None, "test").into();
        let mut settings = aws_sigv4::http_request::SigningSettings::default();
        if service == "s3" {
            settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
            settings.payload_checksum_kind =
                aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
            settings.uri_path_normalization_mode =
                aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
        }
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(std::time::SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
        )
        .expect("a signable request");
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .expect("signed")
            .into_parts();
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = reqwest::Client::new()
            .request(method, url)
            .body(body.to_owned());
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("moto answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap_or_default())
    }

    /// A signed AWS query/JSON call, `POST /` (moto routes on the credential scope's
    /// service), in `us-east-1`; returns the status and the body.
    pub async fn call(
        &self,
        service: &str,
        keys: (&str, &str),
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let url = format!("{}/", self.url);
        let (status, _, text) = self
            .signed("POST", &url, service, "us-east-1", keys, headers, body)
            .await;
        (status, text)
    }

    /// One IAM query action (form body, `Version=2010-05-08` added), signed with
    /// [`BOOTSTRAP_KEYS`]; panics unless moto answers 200. Returns the XML answer.
    pub async fn iam(&self, params: &[(&str, &str)]) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.append_pair("Version", "2010-05-08");
        let (status, text) = self
            .call(
                "iam",
                BOOTSTRAP_KEYS,
                &[("content-type", "application/x-www-form-urlencoded")],
                &form.finish(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        text
    }

    /// An IAM user `name` with an access key and, when given, the inline policy `policy`:
    /// two calls, three with the policy.
    pub async fn iam_user(&self, name: &str, policy: Option<Value>) -> AccessKey {
        self.iam(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        let key = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        if let Some(policy) = policy {
            self.iam(&[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "pathops-test"),
                ("PolicyDocument", &policy.to_string()),
            ])
            .await;
        }
        AccessKey {
            access_key_id: between(&key, "AccessKeyId").expect("an access key id"),
            secret_access_key: between(&key, "SecretAccessKey").expect("a secret access key"),
        }
    }

    /// Creates bucket `name` in `region` (path-style `PUT /<name>`, with a
    /// `LocationConstraint` outside `us-east-1`), signed with [`BOOTSTRAP_KEYS`]: one call.
    pub async fn create_bucket(&self, name: &str, region: &str) {
        let body = if region == "us-east-1" {
            String::new()
        } else {
            format!(
                "<CreateBucketConfiguration><LocationConstraint>{region}</LocationConstraint>\
                 </CreateBucketConfiguration>"
            )
        };
        let url = format!("{}/{name}", self.url);
        let (status, _, text) = self
            .signed("PUT", &url, "s3", region, BOOTSTRAP_KEYS, &[], &body)
            .await;
        assert_eq!(status, 200, "{text}");
    }
}
