//! A Bitbucket integration's configuration: which edition, which repository, which hook.

use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{AuthRef, BaseUrl, Configuration};
use serde_json::Value;

use crate::check::refuse_unknown_keys;

/// Which Bitbucket an integration talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    /// Bitbucket Data Center (formerly Server), self-hosted: REST under `/rest/api/1.0`.
    DataCenter,
    /// Bitbucket Cloud (`bitbucket.org`), REST under `https://api.bitbucket.org/2.0`.
    Cloud,
}

impl Edition {
    /// The `edition` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::DataCenter => "data_center",
            Self::Cloud => "cloud",
        }
    }

    /// The edition a base URL implies when `edition` is not set: Cloud for `bitbucket.org`
    /// and `api.bitbucket.org`, Data Center for any other host.
    ///
    /// ```
    /// use pathops_connectors::bitbucket::Edition;
    /// use pathops_core::BaseUrl;
    ///
    /// let of = |s: &str| Edition::implied_by(&BaseUrl::parse(s).unwrap());
    /// assert_eq!(of("https://api.bitbucket.org"), Edition::Cloud);
    /// assert_eq!(of("https://bitbucket.acme.example/bitbucket"), Edition::DataCenter);
    /// ```
    pub fn implied_by(base_url: &BaseUrl) -> Self {
        match base_url.host().to_ascii_lowercase().as_str() {
            "bitbucket.org" | "api.bitbucket.org" => Self::Cloud,
            _ => Self::DataCenter,
        }
    }
}

/// How a Bitbucket Cloud credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudAuth {
    /// An API token: HTTP Basic with the Atlassian account's e-mail (`username`).
    ApiToken,
    /// An app password: HTTP Basic with the Bitbucket user name (`username`). Creation was
    /// disabled on 9 September 2025; they stop working on [`APP_PASSWORDS_END`].
    AppPassword,
    /// A repository, project or workspace access token: `Authorization: Bearer`.
    AccessToken,
}

impl CloudAuth {
    /// The `auth` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ApiToken => "api_token",
            Self::AppPassword => "app_password",
            Self::AccessToken => "access_token",
        }
    }
}

/// The day Bitbucket Cloud app passwords stop working (00:00 UTC).
pub const APP_PASSWORDS_END: time::OffsetDateTime = time::macros::datetime!(2026-06-09 0:00 UTC);

/// The settings a Bitbucket integration carries in its configuration:
///
/// | key | edition | value |
/// |---|---|---|
/// | `edition` | both | `data_center` or `cloud`; by default implied by the base URL ([`Edition::implied_by`]) |
/// | `project_key` | Data Center, required | the project's key (`ACME`; a personal project is `~USER`) |
/// | `workspace` | Cloud, required | the workspace's slug (or UUID) |
/// | `repo_slug` | both, required | the repository's slug |
/// | `hook_id` | Data Center | the repository webhook the doctor tests (a positive number, or its digits) |
/// | `hook_uuid` | Cloud | the repository webhook whose deliveries the doctor looks for (`{…}` or bare) |
/// | `username` | both | Data Center: send the secret as the password of HTTP Basic for this user instead of as a bearer token. Cloud: the Atlassian account e-mail (API token) or the Bitbucket user name (app password) |
/// | `auth` | Cloud | `api_token`, `app_password` or `access_token`; by default `access_token` without a `username`, `api_token` with an e-mail, `app_password` with a user name |
/// | `webhook_secret_ref` | both | the auth ref (or a list of them, during a rotation) of the hook's secret, read by the doctor |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other key,
/// or a key of the other edition, is refused, naming it. A Cloud integration's base URL is the
/// API's origin, `https://api.bitbucket.org` (the REST root `/2.0` is appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitbucketConfig {
    /// The edition.
    pub edition: Edition,
    /// Data Center: the project's key; Cloud: the workspace.
    pub owner: String,
    /// The repository's slug.
    pub repo_slug: String,
    /// Data Center: the hook, if any.
    pub hook_id: Option<u64>,
    /// Cloud: the hook's UUID, if any, without braces.
    pub hook_uuid: Option<String>,
    /// Basic's user name.
    pub username: Option<String>,
    /// Cloud: how the credential is presented.
    pub auth: CloudAuth,
    /// The hook secret's references (empty when none is configured).
    pub webhook_secret_refs: Vec<AuthRef>,
}

impl BitbucketConfig {
    /// The keys this configuration may have, besides the HTTP settings.
    pub const KEYS: [&'static str; 9] = [
        "edition",
        "project_key",
        "workspace",
        "repo_slug",
        "hook_id",
        "hook_uuid",
        "username",
        "auth",
        "webhook_secret_ref",
    ];

    /// Reads and validates the configuration of an integration at `base_url`; errors name the
    /// key.
    pub fn parse(
        base_url: &BaseUrl,
        configuration: &Configuration,
    ) -> Result<Self, ValidationError> {
        crate::http::IntegrationHttp::from_configuration(configuration)?;
        refuse_unknown_keys(configuration, &Self::KEYS)?;
        let edition = match configuration.get("edition") {
            None | Some(Value::Null) => Edition::implied_by(base_url),
            Some(Value::String(s)) if s == "data_center" => Edition::DataCenter,
            Some(Value::String(s)) if s == "cloud" => Edition::Cloud,
            Some(_) => return Err(ValidationError::new("edition", Problem::UnknownValue)),
        };
        let foreign: &[&'static str] = match edition {
            Edition::DataCenter => &["workspace", "hook_uuid", "auth"],
            Edition::Cloud => &["project_key", "hook_id"],
        };
        if let Some(key) = foreign.iter().find(|k| configuration.get(k).is_some()) {
            return Err(ValidationError::new(key, Problem::UnknownValue));
        }
        // Project keys are letters, digits and `_` (a personal project `~` and a user
        // slug); workspaces and slugs are letters, digits, `-`, `_` and `.`.
        let owner = match edition {
            Edition::DataCenter => name(configuration, "project_key", 128, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '~' | '-' | '.')
            })?,
            Edition::Cloud => name(configuration, "workspace", 128, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '{' | '}')
            })?,
        };
        let repo_slug = name(configuration, "repo_slug", 128, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
        })?;
        let hook_id = match configuration.get("hook_id") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(positive_id(v).ok_or(ValidationError::new("hook_id", Problem::OutOfRange))?)
            }
        };
        let hook_uuid = match configuration.get("hook_uuid") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let bare = s.trim_start_matches('{').trim_end_matches('}');
                if uuid_like(bare) {
                    Some(bare.to_ascii_lowercase())
                } else {
                    return Err(ValidationError::new("hook_uuid", Problem::NotUuid));
                }
            }
            Some(_) => return Err(ValidationError::new("hook_uuid", Problem::NotUuid)),
        };
        let username = match configuration.get("username") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => {
                return Err(ValidationError::new("username", Problem::Empty));
            }
            Some(Value::String(s)) if s.contains(':') => {
                return Err(ValidationError::new(
                    "username",
                    Problem::InvalidCharacter {
                        index: s.find(':').unwrap_or(0),
                    },
                ));
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ValidationError::new("username", Problem::UnknownValue)),
        };
        let auth = match configuration.get("auth") {
            None | Some(Value::Null) => match &username {
                None => CloudAuth::AccessToken,
                Some(u) if u.contains('@') => CloudAuth::ApiToken,
                Some(_) => CloudAuth::AppPassword,
            },
            Some(Value::String(s)) if s == "api_token" => CloudAuth::ApiToken,
            Some(Value::String(s)) if s == "app_password" => CloudAuth::AppPassword,
            Some(Value::String(s)) if s == "access_token" => CloudAuth::AccessToken,
            Some(_) => return Err(ValidationError::new("auth", Problem::UnknownValue)),
        };
        let basic = matches!(auth, CloudAuth::ApiToken | CloudAuth::AppPassword);
        if edition == Edition::Cloud && basic != username.is_some() {
            // Basic needs its user; a bearer token must not carry one.
            return Err(ValidationError::new(
                if basic { "username" } else { "auth" },
                if basic {
                    Problem::Empty
                } else {
                    Problem::UnknownValue
                },
            ));
        }
        Ok(Self {
            edition,
            owner,
            repo_slug,
            hook_id,
            hook_uuid,
            username,
            auth,
            webhook_secret_refs: secret_refs(configuration)?,
        })
    }

    /// `PROJECT/slug` or `workspace/slug`, for messages.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo_slug)
    }
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn name(
    configuration: &Configuration,
    key: &'static str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<String, ValidationError> {
    match configuration.get(key) {
        None | Some(Value::Null) => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.is_empty() => Err(ValidationError::new(key, Problem::Empty)),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(ValidationError::new(key, Problem::TooLong { max }))
        }
        Some(Value::String(s)) => match s.char_indices().find(|(_, c)| !allowed(*c)) {
            Some((index, _)) => Err(ValidationError::new(
                key,
                Problem::InvalidCharacter { index },
            )),
            None => Ok(s.clone()),
        },
        Some(_) => Err(ValidationError::new(key, Problem::UnknownValue)),
    }
}

pub(super) fn positive_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s)
            if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok().filter(|n| *n > 0)
        }
        _ => None,
    }
}

fn secret_refs(configuration: &Configuration) -> Result<Vec<AuthRef>, ValidationError> {
    let refs = |problem| ValidationError::new("webhook_secret_ref", problem);
    match configuration.get("webhook_secret_ref") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.is_empty() => Err(refs(Problem::Empty)),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => AuthRef::parse(s).map_err(|e| refs(Problem::InvalidAuthRef(e))),
                _ => Err(refs(Problem::NotAnAuthRef)),
            })
            .collect(),
        Some(Value::String(s)) => Ok(vec![
            AuthRef::parse(s).map_err(|e| refs(Problem::InvalidAuthRef(e)))?,
        ]),
        Some(_) => Err(refs(Problem::NotAnAuthRef)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(url: &str, v: Value) -> Result<BitbucketConfig, ValidationError> {
        BitbucketConfig::parse(
            &BaseUrl::parse(url).unwrap(),
            &Configuration::new(v).unwrap(),
        )
    }

    #[test]
    fn configuration_keys_are_closed_and_named() {
        let dc = "https://bitbucket.acme.example";
        let c = parse(
            dc,
            json!({"project_key": "ACME", "repo_slug": "platform", "hook_id": "7",
                   "webhook_secret_ref": ["ref://acme/bb/hook", "ref://acme/bb/hook-old"]}),
        )
        .unwrap();
        assert_eq!(
            (
                c.edition,
                c.repository(),
                c.hook_id,
                c.webhook_secret_refs.len()
            ),
            (Edition::DataCenter, "ACME/platform".to_owned(), Some(7), 2)
        );
        let cloud = parse(
            "https://api.bitbucket.org",
            json!({"workspace": "acme", "repo_slug": "platform",
                   "hook_uuid": "{8E7D1A5C-0000-4000-8000-00000000AB01}"}),
        )
        .unwrap();
        assert_eq!(
            (cloud.edition, cloud.auth, cloud.hook_uuid.as_deref()),
            (
                Edition::Cloud,
                CloudAuth::AccessToken,
                Some("8e7d1a5c-0000-4000-8000-00000000ab01")
            )
        );
        let forced = parse(
            dc,
            json!({"edition": "cloud", "workspace": "acme", "repo_slug": "platform",
                   "username": "bot@acme.example"}),
        )
        .unwrap();
        assert_eq!(
            (forced.edition, forced.auth),
            (Edition::Cloud, CloudAuth::ApiToken)
        );
        let app = parse(
            "https://api.bitbucket.org",
            json!({"workspace": "acme", "repo_slug": "p", "username": "acme-bot"}),
        )
        .unwrap();
        assert_eq!(app.auth, CloudAuth::AppPassword);
        let cloud_field = |v: Value| parse("https://api.bitbucket.org", v).unwrap_err().field;
        assert_eq!(
            cloud_field(json!({"workspace": "a", "repo_slug": "b", "hook_id": 7})),
            "hook_id"
        );
        assert_eq!(
            cloud_field(json!({"workspace": "a", "repo_slug": "b", "hook_uuid": "7"})),
            "hook_uuid"
        );
        assert_eq!(
            cloud_field(json!({"workspace": "a", "repo_slug": "b", "auth": "api_token"})),
            "username"
        );
        assert_eq!(
            cloud_field(json!({"workspace": "a", "repo_slug": "b", "auth": "password"})),
            "auth"
        );
        assert_eq!(
            cloud_field(json!({"project_key": "A", "repo_slug": "b"})),
            "project_key"
        );
        let field = |v: Value| parse(dc, v).unwrap_err().field;
        assert_eq!(field(json!({"repo_slug": "a"})), "project_key");
        assert_eq!(field(json!({"project_key": "A"})), "repo_slug");
        assert_eq!(
            field(json!({"project_key": "A", "repo_slug": "a/b"})),
            "repo_slug"
        );
        assert_eq!(
            field(json!({"project_key": "A", "repo_slug": "b", "hook_id": 0})),
            "hook_id"
        );
        assert_eq!(
            field(json!({"project_key": "A", "repo_slug": "b", "edition": "server"})),
            "edition"
        );
        assert_eq!(
            field(json!({"project_key": "A", "repo_slug": "b", "hook_uuid": "x"})),
            "hook_uuid"
        );
        assert_eq!(
            field(json!({"project_key": "A", "repo_slug": "b", "username": "a:b"})),
            "username"
        );
        assert_eq!(
            field(json!({"project_key": "A", "repo_slug": "b", "webhook_secret_ref": []})),
            "webhook_secret_ref"
        );
        let err = parse(
            dc,
            json!({"project_key": "A", "repo_slug": "b", "webhook_id": 7}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`webhook_id`"), "{err}");
    }
}
