//! Gitea and Forgejo (REST v1): what every Gitea connector shares, the
//! [SCM connector](GiteaConnector) with the doctor's hook test round trip (see [`scm`]), and
//! the Actions connector (`actions`, feature `gitea-actions`). The vendor behaviour below is
//! read from Gitea's source
//! (`routers/api/v1/api.go`, `modules/structs`, `models/unit/unit.go`); Forgejo keeps the
//! same API for everything here.
//!
//! | piece | what it does |
//! |---|---|
//! | [`api_root`] | `<base URL>/api/v1` (a base URL already ending in `/api/v1` is kept) |
//! | token header | `Authorization: token <TOKEN>`, bound to the base URL's origin |
//! | [`classify`] | 401 unauthenticated; 403 permission denied, naming the scope from Gitea's refusal ([`missing_scope`]); the rest as [`status::default_failure`](crate::http::status::default_failure) |
//! | [`ServerVersion`] | `GET /version` (`{"version": "1.24.2"}`, or `11.0.3+gitea-1.22.0` on Forgejo): the product and the Gitea version it speaks |
//! | identity | `GET /user` (scope `read:user`): `id`, `login`, `is_admin` |
//! | [`Page`] | list pagination: `X-Total-Count` and the `Link` header's `next` (`page`, `limit`; at most `[api] MAX_RESPONSE_ITEMS`, default 50) |
//!
//! Gitea's scoped tokens (`read:user`, `read:repository`, `write:repository`, …) are checked
//! per route group before anything is looked up: a token without the scope gets 403 with the
//! scope named, even for a repository that does not exist. A private repository the token's
//! user cannot see is 404. Gitea echoes an unknown token in its 401 message
//! (`access token does not exist [sha: <token>]`); failure messages here drop that part.
//! Gitea sends no rate-limit headers.

#[cfg(feature = "gitea-actions")]
pub mod actions;
mod auth;
mod config;
mod findings;
mod hook;
pub mod scm;

use std::sync::Arc;

use pathops_core::{CheckResult, Clock, ConnectorContext, FailureCode};
use serde_json::Value;

pub use auth::{classify, missing_scope};
pub use config::{RepoRef, api_root};
pub use scm::{GiteaConfig, GiteaConnector, GiteaConnectorBuilder};

use crate::check::Check;
use crate::http::{HttpClient, HttpRequest, HttpResponse};

type Step<T> = std::result::Result<T, CheckResult>;

/// What `GET /version` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// The version as reported.
    pub version: String,
    /// Forgejo reports `<forgejo>+gitea-<gitea>`.
    pub forgejo: bool,
    /// The Gitea version spoken (Forgejo's `+gitea-` part), when it parses.
    pub gitea: Option<(u64, u64, u64)>,
}

impl ServerVersion {
    /// Reads a version string.
    ///
    /// ```
    /// use pathops_connectors::gitea::ServerVersion;
    ///
    /// let gitea = ServerVersion::parse("1.24.2");
    /// assert_eq!((gitea.forgejo, gitea.gitea), (false, Some((1, 24, 2))));
    /// let forgejo = ServerVersion::parse("11.0.3+gitea-1.22.0");
    /// assert_eq!((forgejo.product(), forgejo.gitea), ("Forgejo", Some((1, 22, 0))));
    /// assert_eq!(ServerVersion::parse("1.21.11").at_least(1, 22), Some(false));
    /// assert_eq!(ServerVersion::parse("development").at_least(1, 22), None);
    /// ```
    pub fn parse(version: &str) -> Self {
        let (forgejo, gitea) = match version.split_once("+gitea-") {
            Some((_, gitea)) => (true, gitea),
            None => (false, version),
        };
        let mut parts = gitea
            .trim_start_matches('v')
            .split(['.', '-', '+'])
            .map(|p| p.parse::<u64>().ok());
        let parsed = match (parts.next().flatten(), parts.next().flatten()) {
            (Some(major), Some(minor)) => Some((major, minor, parts.next().flatten().unwrap_or(0))),
            _ => None,
        };
        Self {
            version: version.to_owned(),
            forgejo,
            gitea: parsed,
        }
    }

    /// `Gitea` or `Forgejo`.
    pub fn product(&self) -> &'static str {
        if self.forgejo { "Forgejo" } else { "Gitea" }
    }

    /// Whether the Gitea version spoken is at least `major.minor`; `None` when unknown.
    pub fn at_least(&self, major: u64, minor: u64) -> Option<bool> {
        self.gitea.map(|(ma, mi, _)| (ma, mi) >= (major, minor))
    }
}

/// The pagination of a list answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// `X-Total-Count`: the items of every page.
    pub total_count: Option<u64>,
    /// The `Link` header's `rel="next"` URL, to follow as given.
    pub next: Option<String>,
}

impl Page {
    /// Reads `X-Total-Count` and `Link` (`<url>; rel="next",<url>; rel="last"`).
    pub fn of(response: &HttpResponse) -> Self {
        let next = response.header("link").and_then(|link| {
            link.split(',').find_map(|part| {
                let (url, params) = part.split_once(';')?;
                params
                    .split(';')
                    .any(|p| p.trim() == "rel=\"next\"")
                    .then(|| url.trim().trim_matches(['<', '>']).to_owned())
            })
        });
        Self {
            total_count: response
                .header("x-total-count")
                .and_then(|v| v.trim().parse().ok()),
            next,
        }
    }
}

/// The calls every Gitea connector makes, through one [`HttpClient`].
#[derive(Debug)]
pub(crate) struct GiteaApi {
    pub(crate) http: HttpClient,
    pub(crate) clock: Arc<dyn Clock>,
}

impl GiteaApi {
    /// A `GET` of `path` under the API root, with the token.
    pub(crate) fn get(ctx: &ConnectorContext, path: &str) -> HttpRequest {
        let url = format!("{}/{path}", api_root(&ctx.integration.base_url));
        auth::authorize(
            HttpRequest::get(url).header("accept", "application/json"),
            ctx.secret.as_ref(),
        )
    }

    /// The failed result for a refused or unexpected answer (the token Gitea may echo
    /// dropped from the message).
    pub(crate) fn failed(
        &self,
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
    ) -> CheckResult {
        let code = classify(response, self.clock.now()).unwrap_or(FailureCode::InvalidResponse);
        let mut message = auth::failure_message(what, response);
        if code == FailureCode::Unauthenticated && check.ctx.secret.is_none() {
            message.push_str(" (no token configured)");
        }
        check.failed(code, message)
    }

    /// The body as JSON, or an invalid-response failure.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        check: &Check<'_>,
        what: &str,
        response: &HttpResponse,
    ) -> Step<T> {
        response.json().map_err(|_| {
            check.failed(
                FailureCode::InvalidResponse,
                format!("{what}: not the JSON Gitea sends"),
            )
        })
    }

    /// `GET /version`.
    pub(crate) async fn version(&self, check: &Check<'_>) -> Step<ServerVersion> {
        const WHAT: &str = "GET /api/v1/version";
        let response = check.send(Self::get(check.ctx, "version")).await?;
        if !response.status.is_success() {
            return Err(self.failed(check, WHAT, &response));
        }
        let body: Value = Self::json(check, WHAT, &response)?;
        match body["version"].as_str() {
            Some(v) => Ok(ServerVersion::parse(v)),
            None => Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{WHAT}: no version in the answer"),
            )),
        }
    }

    /// `GET /user` (scope `read:user`): the token's user.
    pub(crate) async fn whoami(&self, check: &Check<'_>) -> Step<Value> {
        const WHAT: &str = "GET /api/v1/user";
        let response = check.send(Self::get(check.ctx, "user")).await?;
        if !response.status.is_success() {
            return Err(self.failed(check, WHAT, &response));
        }
        let user: Value = Self::json(check, WHAT, &response)?;
        if user["login"].as_str().is_none() {
            return Err(check.failed(
                FailureCode::InvalidResponse,
                format!("{WHAT}: no login in the answer"),
            ));
        }
        Ok(user)
    }

    /// The start of every connection test: `GET /version`, then `GET /user`. A token
    /// without `read:user` is not refused here (the repository calls prove it); the user is
    /// then unknown and the returned warning says why.
    pub(crate) async fn identify(&self, check: &Check<'_>) -> Step<Identity> {
        let version = self.version(check).await?;
        match self.whoami(check).await {
            Ok(user) => Ok(Identity {
                version,
                login: user["login"].as_str().map(str::to_owned),
                user: Some(serde_json::json!({
                    "id": user["id"], "login": user["login"], "is_admin": user["is_admin"],
                })),
                warning: None,
            }),
            Err(r)
                if matches!(
                    r.failure,
                    Some(FailureCode::PermissionDenied {
                        missing_scope: Some(_)
                    })
                ) =>
            {
                Ok(Identity {
                    version,
                    login: None,
                    user: None,
                    warning: Some(format!(
                        "the token lacks read:user, so its user is not reported ({})",
                        r.message
                    )),
                })
            }
            Err(r) => Err(r),
        }
    }
}

/// What [`GiteaApi::identify`] learnt.
pub(crate) struct Identity {
    /// The server.
    pub(crate) version: ServerVersion,
    /// The token's user (`id`, `login`, `is_admin`), when the token may read it.
    pub(crate) user: Option<Value>,
    /// Its login.
    pub(crate) login: Option<String>,
    /// Why the user is unknown.
    pub(crate) warning: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn answer(headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        HttpResponse {
            status: reqwest::StatusCode::OK,
            headers: map,
            body: b"[]".to_vec(),
            url: "http://127.0.0.1/api/v1/x".parse().unwrap(),
        }
    }

    #[test]
    fn pages_follow_giteas_link_header() {
        let page = Page::of(&answer(&[
            ("x-total-count", "97"),
            (
                "link",
                "<https://git.example/api/v1/repos/o/r/actions/tasks?limit=30&page=2>; rel=\"next\",<https://git.example/api/v1/repos/o/r/actions/tasks?limit=30&page=4>; rel=\"last\"",
            ),
        ]));
        assert_eq!(page.total_count, Some(97));
        assert_eq!(
            page.next.as_deref(),
            Some("https://git.example/api/v1/repos/o/r/actions/tasks?limit=30&page=2")
        );
        let last = Page::of(&answer(&[
            ("x-total-count", "3"),
            (
                "link",
                "<https://git.example/x?limit=1&page=1>; rel=\"first\",<https://git.example/x?limit=1&page=2>; rel=\"prev\"",
            ),
        ]));
        assert_eq!((last.total_count, last.next), (Some(3), None));
        assert_eq!(Page::of(&answer(&[])), Page::default());
    }

    #[test]
    fn refusals_are_classified_with_their_scope() {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let refusal = |status: u16, body: &str| HttpResponse {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            body: body.as_bytes().to_vec(),
            ..answer(&[])
        };
        assert_eq!(
            classify(
                &refusal(
                    403,
                    r#"{"message":"token does not have at least one of required scope(s): [read:user]","url":"x"}"#
                ),
                now
            ),
            Some(FailureCode::PermissionDenied {
                missing_scope: Some("read:user".into())
            })
        );
        assert_eq!(
            classify(
                &refusal(
                    403,
                    r#"{"message":"user should have specific read permission or be a repo admin or a site admin"}"#
                ),
                now
            ),
            Some(FailureCode::PermissionDenied {
                missing_scope: None
            })
        );
        assert_eq!(
            classify(&refusal(403, "<html>forbidden</html>"), now),
            Some(FailureCode::PermissionDenied {
                missing_scope: None
            })
        );
        assert_eq!(
            classify(&refusal(401, r#"{"message":"token is required"}"#), now),
            Some(FailureCode::Unauthenticated)
        );
        assert_eq!(
            missing_scope("token does not have at least one of required scope(s): [read:repository write:issue]")
                .as_deref(),
            Some("read:repository write:issue")
        );
        assert_eq!(classify(&refusal(200, "{}"), now), None);
    }
}
