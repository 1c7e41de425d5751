//! Listing: [`ListFilter`], [`ListQuery`], [`Page`] and opaque keyset [`Cursor`]s.
//!
//! Lists are ordered by `(name, id)`. A cursor holds the last `(name, id)` of a page, the tenant
//! and a fingerprint of the filter, and a checksum; a cursor that was altered, or that is used
//! with another tenant or another filter, is [`Error::InvalidCursor`]. Cursors are
//! integrity-checked, not secret, and grant nothing: every query is scoped to the caller's
//! tenant regardless.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fields::Environment;
use crate::id::{IntegrationId, TenantId};
use crate::lifecycle::IntegrationStatus;
use crate::provider::{IntegrationType, Provider};
use crate::validate::{Problem, ValidationError};

/// Which integrations to list. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListFilter {
    /// Of this type.
    pub integration_type: Option<IntegrationType>,
    /// Of this provider.
    pub provider: Option<Provider>,
    /// In this status.
    pub status: Option<IntegrationStatus>,
    /// In this environment.
    pub environment: Option<Environment>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// Whose name starts with this (case-sensitive).
    pub name_prefix: Option<String>,
}

impl ListFilter {
    fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("filters serialize");
        crate::audit::hex(&Sha256::digest(json)[..8])
    }
}

/// A list request: filter, position and page size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// What to list.
    pub filter: ListFilter,
    /// Continue after this cursor.
    pub cursor: Option<Cursor>,
    /// Page size: default [`ListQuery::DEFAULT_LIMIT`], at most [`ListQuery::MAX_LIMIT`].
    pub limit: Option<u32>,
}

impl ListQuery {
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 500;

    /// The first page of `filter`.
    pub fn new(filter: ListFilter) -> Self {
        Self {
            filter,
            ..Self::default()
        }
    }

    /// Sets the page size.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after `cursor`.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    /// The effective page size; 0 or more than [`ListQuery::MAX_LIMIT`] is a validation error.
    pub fn effective_limit(&self) -> Result<u32, ValidationError> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(n @ 1..=Self::MAX_LIMIT) => Ok(n),
            Some(_) => Err(ValidationError::new("limit", Problem::OutOfRange)),
        }
    }

    /// The position to continue after, checked against `tenant` and this query's filter.
    pub fn position(&self, tenant: &TenantId) -> Result<Option<CursorPosition>> {
        self.cursor
            .as_ref()
            .map(|c| c.decode(tenant, &self.filter))
            .transpose()
    }
}

/// One page of results.
///
/// A stored row that cannot be read back (edited in the database by hand, written by a newer
/// or broken release) never fails the page: it is left out of `items` and reported in
/// `unreadable`, in list order, while every other row on the page is returned. Reading it by
/// id fails with [`Error::Corrupt`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Cursor>,
    /// Rows on this page that could not be read back.
    pub unreadable: Vec<Unreadable>,
}

impl<T> Page<T> {
    /// A page of readable items.
    pub fn new(items: Vec<T>, next_cursor: Option<Cursor>) -> Self {
        Self {
            items,
            next_cursor,
            unreadable: Vec::new(),
        }
    }
}

/// A stored row that could not be read back: what could be read of its key, and why the rest
/// could not (never a stored value: the row may hold anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    /// Its id, when that column could be read.
    pub id: Option<IntegrationId>,
    /// Its name as stored, when that column could be read as text.
    pub name: Option<String>,
    /// What could not be read, with the cause chain (`stored integrations.configuration is
    /// invalid: …`).
    pub reason: String,
}

/// The last `(name, id)` of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorPosition {
    /// Name of the last item.
    pub name: String,
    /// Id of the last item.
    pub id: IntegrationId,
}

/// An opaque keyset cursor (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    v: u8,
    t: String,
    f: String,
    n: String,
    i: IntegrationId,
}

const CURSOR_DOMAIN: &[u8] = b"pathops-cursor-v1\n";

fn checksum(payload: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(CURSOR_DOMAIN);
    h.update(payload);
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

impl Cursor {
    /// The longest cursor accepted, in bytes.
    pub const MAX_LEN: usize = 1024;

    /// The cursor after `position` for `tenant` and `filter`.
    pub fn encode(tenant: &TenantId, filter: &ListFilter, position: &CursorPosition) -> Self {
        let payload = serde_json::to_vec(&CursorPayload {
            v: 1,
            t: tenant.to_string(),
            f: filter.fingerprint(),
            n: position.name.clone(),
            i: position.id,
        })
        .expect("cursor payload serializes");
        Self(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            checksum(&payload)
        ))
    }

    /// Wraps a cursor received from a client (checked when used).
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token to hand to a client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The position, if the cursor is intact and was issued for `tenant` and `filter`.
    pub fn decode(&self, tenant: &TenantId, filter: &ListFilter) -> Result<CursorPosition> {
        let bad = |reason| Err(Error::InvalidCursor { reason });
        if self.0.len() > Self::MAX_LEN {
            return bad("too long");
        }
        let Some((body, sum)) = self.0.split_once('.') else {
            return bad("malformed");
        };
        let Ok(payload) = URL_SAFE_NO_PAD.decode(body) else {
            return bad("malformed");
        };
        if checksum(&payload) != sum {
            return bad("checksum mismatch: the cursor was altered");
        }
        let Ok(p) = serde_json::from_slice::<CursorPayload>(&payload) else {
            return bad("malformed");
        };
        if p.v != 1 {
            return bad("unsupported version");
        }
        if p.t != tenant.as_str() {
            return bad("issued for another tenant");
        }
        if p.f != filter.fingerprint() {
            return bad("issued for another filter");
        }
        Ok(CursorPosition { name: p.n, id: p.i })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    #[test]
    fn cursors_round_trip_and_refuse_misuse() {
        let pos = CursorPosition {
            name: "Ünïcødé name".into(),
            id: IntegrationId::new(),
        };
        let filter = ListFilter::default();
        let c = Cursor::encode(&t("acme"), &filter, &pos);
        assert_eq!(c.decode(&t("acme"), &filter).unwrap(), pos);

        let reason = |r: Result<CursorPosition>| match r {
            Err(Error::InvalidCursor { reason }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(c.decode(&t("other"), &filter)),
            "issued for another tenant"
        );
        let narrower = ListFilter {
            status: Some(IntegrationStatus::Active),
            ..ListFilter::default()
        };
        assert_eq!(
            reason(c.decode(&t("acme"), &narrower)),
            "issued for another filter"
        );

        let mut tampered = c.as_str().to_owned();
        let flip = if tampered.starts_with('e') { "f" } else { "e" };
        tampered.replace_range(0..1, flip);
        assert_eq!(
            reason(Cursor::from_token(tampered).decode(&t("acme"), &filter)),
            "checksum mismatch: the cursor was altered"
        );
        assert_eq!(
            reason(Cursor::from_token("garbage").decode(&t("acme"), &filter)),
            "malformed"
        );
        assert_eq!(
            reason(Cursor::from_token("!!.??").decode(&t("acme"), &filter)),
            "malformed"
        );
    }

    #[test]
    fn limits() {
        assert_eq!(ListQuery::default().effective_limit(), Ok(50));
        assert_eq!(
            ListQuery::default().with_limit(500).effective_limit(),
            Ok(500)
        );
        assert_eq!(
            ListQuery::default()
                .with_limit(501)
                .effective_limit()
                .unwrap_err()
                .field,
            "limit"
        );
        assert!(
            ListQuery::default()
                .with_limit(0)
                .effective_limit()
                .is_err()
        );
    }
}
