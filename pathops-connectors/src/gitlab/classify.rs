//! GitLab's classifier: status codes and headers to [`FailureCode`]s.

use pathops_core::FailureCode;
use time::OffsetDateTime;

use crate::http::{HttpResponse, status};

/// `None` for a 2xx answer. 401 unauthenticated; 403 `insufficient_scope` names the scope
/// GitLab asks for (`scope`), any other 403 is a role or policy refusal; 429 resets at
/// `Retry-After`, else `RateLimit-ResetTime`, else `RateLimit-Reset`; the rest as
/// [`status::default_failure`].
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    match response.status.as_u16() {
        403 => {
            let body: serde_json::Value = response.json().unwrap_or_default();
            let missing_scope = (body.get("error").and_then(|e| e.as_str())
                == Some("insufficient_scope"))
            .then(|| {
                body.get("scope")
                    .and_then(|s| s.as_str())
                    .unwrap_or_default()
                    .to_owned()
            });
            Some(FailureCode::PermissionDenied { missing_scope })
        }
        429 => Some(FailureCode::RateLimited {
            reset_at: status::retry_after(&response.headers, now)
                .or_else(|| {
                    response
                        .header("ratelimit-resettime")
                        .and_then(status::http_date)
                })
                .or_else(|| status::epoch_header(&response.headers, "ratelimit-reset")),
        }),
        _ => status::default_failure(response.status, &response.headers, now),
    }
}
