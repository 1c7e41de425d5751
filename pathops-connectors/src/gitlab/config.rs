//! The GitLab integration's configuration, validated.

use pathops_core::validate::{Problem, ValidationError};
use pathops_core::{BaseUrl, Configuration};
use serde_json::Value;

/// Hook test triggers GitLab accepts (`ProjectHook.triggers`).
pub const TRIGGERS: [&str; 15] = [
    "push_events",
    "tag_push_events",
    "issues_events",
    "confidential_issues_events",
    "note_events",
    "confidential_note_events",
    "merge_requests_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "feature_flag_events",
    "releases_events",
    "emoji_events",
    "resource_access_token_events",
];

/// A project, by numeric id or full path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    /// `42`.
    Id(u64),
    /// `group/sub/project`.
    Path(String),
}

impl ProjectRef {
    /// The URL segment: the id, or the path with every `/` (and other reserved character)
    /// percent-encoded, as GitLab requires.
    pub fn segment(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Path(path) => crate::http::path_segment(path),
        }
    }
}

/// How the token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenType {
    /// `PRIVATE-TOKEN: <token>`: personal, project and group access tokens (default).
    #[default]
    PrivateToken,
    /// `Authorization: Bearer <token>`: OAuth tokens (access tokens work too).
    Bearer,
}

/// The settings a GitLab integration may carry in its configuration:
///
/// | key | value |
/// |---|---|
/// | `project` | numeric id (`42` or `"42"`) or full path (`"group/sub/project"`) |
/// | `hook_id` | the project hook the doctor tests (needs `project`) |
/// | `webhook_trigger` | the hook test trigger the doctor uses ([`TRIGGERS`]), default `push_events` |
/// | `webhook_secret_ref` | the doctor's: auth ref(s) of the hook's secret token |
/// | `token_type` | `private_token` (default) or `bearer` |
/// | `instance_url` | the instance's external URL as deliveries name it (`X-Gitlab-Instance`), when PathOps reaches GitLab through another address; default the base URL |
///
/// plus the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp). Any other
/// key is refused, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabConfig {
    /// The project, if any.
    pub project: Option<ProjectRef>,
    /// The hook, if any.
    pub hook_id: Option<u64>,
    /// The hook test trigger (`webhook_trigger`).
    pub trigger: String,
    /// How the token is sent.
    pub token_type: TokenType,
    /// The instance URL deliveries carry in `X-Gitlab-Instance`, when it is not the base URL.
    pub instance_url: Option<String>,
}

impl GitLabConfig {
    /// Every key a GitLab configuration may have (besides the HTTP settings).
    pub const KEYS: [&'static str; 6] = [
        "project",
        "hook_id",
        pathops_core::webhook::TRIGGER_KEY,
        "token_type",
        "instance_url",
        pathops_core::webhook::SECRET_REF_KEY,
    ];

    /// Reads and validates the configuration; errors name the key.
    pub fn parse(configuration: &Configuration) -> Result<Self, ValidationError> {
        crate::http::IntegrationHttp::from_configuration(configuration)?;
        crate::check::refuse_unknown_keys(configuration, &Self::KEYS)?;
        let project = match configuration.get("project") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_project(v)?),
        };
        let hook_id = match configuration.get("hook_id") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(positive_id(v).ok_or(ValidationError::new("hook_id", Problem::OutOfRange))?)
            }
        };
        if hook_id.is_some() && project.is_none() {
            return Err(ValidationError::new("project", Problem::Empty));
        }
        let trigger = match configuration.get(pathops_core::webhook::TRIGGER_KEY) {
            None | Some(Value::Null) => "push_events".to_owned(),
            Some(Value::String(t)) if TRIGGERS.contains(&t.as_str()) => t.clone(),
            Some(_) => {
                return Err(ValidationError::new(
                    pathops_core::webhook::TRIGGER_KEY,
                    Problem::UnknownValue,
                ));
            }
        };
        let token_type = match configuration.get("token_type").and_then(Value::as_str) {
            None if configuration.get("token_type").is_none_or(Value::is_null) => {
                TokenType::PrivateToken
            }
            Some("private_token") => TokenType::PrivateToken,
            Some("bearer") => TokenType::Bearer,
            _ => return Err(ValidationError::new("token_type", Problem::UnknownValue)),
        };
        let instance_url = match configuration.get("instance_url") {
            None | Some(Value::Null) => None,
            Some(Value::String(u)) => Some(
                BaseUrl::parse(u)
                    .map_err(|e| ValidationError::new("instance_url", e.problem))?
                    .to_string(),
            ),
            Some(_) => return Err(ValidationError::new("instance_url", Problem::UnknownValue)),
        };
        Ok(Self {
            project,
            hook_id,
            trigger,
            token_type,
            instance_url,
        })
    }
}

fn positive_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok().filter(|n| *n > 0)
        }
        _ => None,
    }
}

fn parse_project(v: &Value) -> Result<ProjectRef, ValidationError> {
    if let Some(id) = positive_id(v) {
        return Ok(ProjectRef::Id(id));
    }
    let err = |problem| ValidationError::new("project", problem);
    let Value::String(path) = v else {
        return Err(err(Problem::UnknownValue));
    };
    if path.is_empty() {
        return Err(err(Problem::Empty));
    }
    if path.len() > 1024 {
        return Err(err(Problem::TooLong { max: 1024 }));
    }
    if let Some((index, _)) = path
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    {
        return Err(err(Problem::InvalidCharacter { index }));
    }
    if !path.contains('/') || path.split('/').any(str::is_empty) {
        return Err(err(Problem::UnknownValue));
    }
    Ok(ProjectRef::Path(path.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<GitLabConfig, ValidationError> {
        GitLabConfig::parse(&Configuration::new(v).unwrap())
    }

    #[test]
    fn projects_hooks_and_triggers() {
        let c = parse(json!({"project": "group/sub/app", "hook_id": "7"})).unwrap();
        assert_eq!(c.project, Some(ProjectRef::Path("group/sub/app".into())));
        assert_eq!(c.project.unwrap().segment(), "group%2Fsub%2Fapp");
        assert_eq!(c.hook_id, Some(7));
        assert_eq!(c.trigger, "push_events");
        assert_eq!(c.token_type, TokenType::PrivateToken);
        let c = parse(
            json!({"project": 42, "webhook_trigger": "tag_push_events", "token_type": "bearer"}),
        )
        .unwrap();
        assert_eq!(c.project, Some(ProjectRef::Id(42)));
        assert_eq!(c.trigger, "tag_push_events");
        assert_eq!(c.token_type, TokenType::Bearer);
        assert_eq!(parse(json!({})).unwrap().project, None);

        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({"project": "noslash"})), "project");
        assert_eq!(field(json!({"project": "a//b"})), "project");
        assert_eq!(field(json!({"project": "a/b c"})), "project");
        assert_eq!(field(json!({"project": 0})), "project");
        assert_eq!(field(json!({"hook_id": 3})), "project");
        assert_eq!(field(json!({"project": 1, "hook_id": -3})), "hook_id");
        assert_eq!(
            field(json!({"project": 1, "webhook_trigger": "bogus"})),
            "webhook_trigger"
        );
        // The doctor's key is the only trigger key; a misspelt or retired one is named.
        let retired = parse(json!({"project": 1, "trigger": "push_events"})).unwrap_err();
        assert!(retired.to_string().contains("`trigger`"), "{retired}");
        assert_eq!(field(json!({"token_type": "basic"})), "token_type");
        assert_eq!(field(json!({"proxy_url": "ftp://x"})), "proxy_url");
        assert_eq!(field(json!({"instance_url": "not a url"})), "instance_url");
        assert_eq!(field(json!({"instance_url": 3})), "instance_url");
        let c = parse(json!({"instance_url": "https://gitlab.example.com/"})).unwrap();
        assert_eq!(
            c.instance_url.as_deref(),
            Some("https://gitlab.example.com")
        );
    }
}
