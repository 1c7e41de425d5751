//! GitHub's classifier: status codes, rate-limit headers and
//! error bodies to failure codes.

use pathops_core::FailureCode;
use time::OffsetDateTime;

use crate::http::{HttpResponse, status};

/// `None` for 2xx. 401 unauthenticated (bad token or JWT). A 403 or 429 with
/// `x-ratelimit-remaining: 0` is rate limited until `x-ratelimit-reset`; a 403 with
/// `retry-after` or a secondary-rate-limit message is rate limited too; any other 403 is
/// permission denied. The rest as [`status::default_failure`].
pub fn classify(response: &HttpResponse, now: OffsetDateTime) -> Option<FailureCode> {
    let code = response.status.as_u16();
    if code == 403 || code == 429 {
        if response.header("x-ratelimit-remaining").map(str::trim) == Some("0") {
            return Some(FailureCode::RateLimited {
                reset_at: status::epoch_header(&response.headers, "x-ratelimit-reset"),
            });
        }
        let secondary = response
            .body_excerpt(2000)
            .to_ascii_lowercase()
            .contains("secondary rate limit");
        if code == 429 || secondary || response.headers.contains_key("retry-after") {
            return Some(FailureCode::RateLimited {
                reset_at: status::retry_after(&response.headers, now),
            });
        }
    }
    status::default_failure(response.status, &response.headers, now)
}
