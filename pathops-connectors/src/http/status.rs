//! Helpers shared by the per-provider classifiers: rate-limit times and the default mapping of
//! an HTTP status to a [`FailureCode`], and building a [`CheckResult`] from a failure.

use std::time::Instant;

use pathops_core::{CheckResult, FailureCode};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use time::OffsetDateTime;

use super::TransportError;

/// `Retry-After` as an instant: delay-seconds from `now`, or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    match value.parse::<u32>() {
        Ok(seconds) => Some(now + time::Duration::seconds(i64::from(seconds))),
        Err(_) => http_date(value),
    }
}

/// A header holding Unix epoch seconds (`RateLimit-Reset`, `x-ratelimit-reset`).
pub fn epoch_header(headers: &HeaderMap, name: &str) -> Option<OffsetDateTime> {
    let seconds: i64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(value: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(value.trim(), &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The mapping every provider starts from: `None` for 2xx; 401 unauthenticated; 403 permission
/// denied; 404 not found; 429 rate limited (reset from `Retry-After`); 5xx server error; any
/// other status (3xx, 4xx) an invalid response.
pub fn default_failure(
    status: StatusCode,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Option<FailureCode> {
    Some(match status.as_u16() {
        200..=299 => return None,
        401 => FailureCode::Unauthenticated,
        403 => FailureCode::PermissionDenied {
            missing_scope: None,
        },
        404 => FailureCode::NotFound,
        429 => FailureCode::RateLimited {
            reset_at: retry_after(headers, now),
        },
        500..=599 => FailureCode::ServerError {
            status: status.as_u16(),
        },
        _ => FailureCode::InvalidResponse,
    })
}

/// A failed check for a transport error, timed from `started`.
pub fn transport_failed(err: &TransportError, started: Instant) -> CheckResult {
    CheckResult::failed(err.failure_code(), started.elapsed(), err.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use time::macros::datetime;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = datetime!(2026-11-21 12:00 UTC);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "30")]), now),
            Some(datetime!(2026-11-21 12:00:30 UTC))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Sat, 21 Nov 2026 12:05:00 GMT")]),
                now
            ),
            Some(datetime!(2026-11-21 12:05 UTC))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(
            epoch_header(
                &headers(&[("ratelimit-reset", "1795435200")]),
                "ratelimit-reset"
            ),
            Some(datetime!(2026-11-23 12:00 UTC))
        );
    }

    #[test]
    fn default_mapping() {
        let now = datetime!(2026-11-21 12:00 UTC);
        let h = HeaderMap::new();
        let code = |s: u16| default_failure(StatusCode::from_u16(s).unwrap(), &h, now);
        assert_eq!(code(204), None);
        assert_eq!(code(401), Some(FailureCode::Unauthenticated));
        assert_eq!(code(404), Some(FailureCode::NotFound));
        assert_eq!(code(429), Some(FailureCode::RateLimited { reset_at: None }));
        assert_eq!(code(502), Some(FailureCode::ServerError { status: 502 }));
        assert_eq!(code(302), Some(FailureCode::InvalidResponse));
        assert_eq!(code(422), Some(FailureCode::InvalidResponse));
    }
}
