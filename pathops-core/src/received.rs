//! The consumer side: events as a subscriber reads them back from a bus.
//!
//! Sinks publish [`EventEnvelope::to_cloudevent`] documents. [`ReceivedEvent::from_cloudevent`]
//! reads one back. A consumer built against this version may meet event types added later; it
//! gets them as [`ReceivedEvent::Unknown`] (id, type and the whole document) instead of an error,
//! so it can skip them and carry on.

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::event::{EventEnvelope, EventType};

/// An event read from a bus.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReceivedEvent {
    /// A type this version knows, read into an envelope.
    Known(EventEnvelope),
    /// A type this version does not know (a newer producer's); nothing but its id and type is
    /// interpreted.
    Unknown(UnknownEvent),
}

/// An event of a type this version does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownEvent {
    /// The event id; deduplicate by it as for known events.
    pub id: Uuid,
    /// The CloudEvents `type`.
    pub event_type: String,
    /// The whole CloudEvents document.
    pub document: Value,
}

/// A message that is not a PathOps CloudEvent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event: {reason}")]
pub struct MalformedEvent {
    /// What is wrong (never the payload itself).
    pub reason: String,
}

fn malformed(reason: impl Into<String>) -> MalformedEvent {
    MalformedEvent {
        reason: reason.into(),
    }
}

fn str_field<'a>(doc: &'a Value, name: &str) -> Result<&'a str, MalformedEvent> {
    doc.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("`{name}` is missing or not a string")))
}

impl ReceivedEvent {
    /// Reads a CloudEvents 1.0 JSON document (structured mode), as the sinks publish it.
    pub fn from_cloudevent(bytes: &[u8]) -> Result<Self, MalformedEvent> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        Self::from_cloudevent_value(doc)
    }

    /// Reads an already parsed CloudEvents document.
    pub fn from_cloudevent_value(doc: Value) -> Result<Self, MalformedEvent> {
        if str_field(&doc, "specversion")? != "1.0" {
            return Err(malformed("`specversion` is not 1.0"));
        }
        let id =
            Uuid::parse_str(str_field(&doc, "id")?).map_err(|_| malformed("`id` is not a UUID"))?;
        let type_name = str_field(&doc, "type")?;
        let Some(event_type) = EventType::parse(type_name) else {
            return Ok(Self::Unknown(UnknownEvent {
                id,
                event_type: type_name.to_owned(),
                document: doc,
            }));
        };
        let tenant_id = str_field(&doc, "tenantid")?
            .parse()
            .map_err(|_| malformed("`tenantid` is not a tenant id"))?;
        let integration_id = str_field(&doc, "subject")?
            .parse()
            .map_err(|_| malformed("`subject` is not an integration id"))?;
        let version = doc
            .get("integrationversion")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("`integrationversion` is missing or not a number"))?;
        let occurred_at = OffsetDateTime::parse(
            str_field(&doc, "time")?,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|_| malformed("`time` is not RFC 3339"))?;
        let data = doc.get("data").cloned().unwrap_or(Value::Null);
        Ok(Self::Known(EventEnvelope {
            id,
            event_type,
            tenant_id,
            integration_id,
            version,
            occurred_at,
            data,
        }))
    }

    /// The event id.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Known(e) => e.id,
            Self::Unknown(e) => e.id,
        }
    }

    /// The CloudEvents `type` (`integration.created`, …).
    pub fn type_name(&self) -> &str {
        match self {
            Self::Known(e) => e.event_type.as_str(),
            Self::Unknown(e) => &e.event_type,
        }
    }

    /// The envelope, for a known type.
    pub fn known(&self) -> Option<&EventEnvelope> {
        match self {
            Self::Known(e) => Some(e),
            Self::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IntegrationId;
    use time::macros::datetime;

    fn envelope(event_type: EventType) -> EventEnvelope {
        EventEnvelope::new(
            event_type,
            "acme".parse().unwrap(),
            IntegrationId::new(),
            7,
            datetime!(2026-11-21 10:00:00.123456 UTC),
            serde_json::json!({"status": "active"}),
        )
    }

    #[test]
    fn every_known_type_reads_back_to_the_published_envelope() {
        for t in EventType::ALL {
            let e = envelope(t);
            let bytes = serde_json::to_vec(&e.to_cloudevent("/pathops/catalog")).unwrap();
            let got = ReceivedEvent::from_cloudevent(&bytes).unwrap();
            assert_eq!(got, ReceivedEvent::Known(e.clone()), "{t}");
            assert_eq!((got.id(), got.type_name()), (e.id, t.as_str()));
        }
    }

    #[test]
    fn an_unknown_future_type_is_read_not_refused() {
        let e = envelope(EventType::Created);
        let mut doc = e.to_cloudevent("/pathops/catalog");
        doc["type"] = "integration.archived".into();
        doc["subject"] = "not even an integration id".into();
        let got = ReceivedEvent::from_cloudevent_value(doc.clone()).unwrap();
        assert_eq!(
            got,
            ReceivedEvent::Unknown(UnknownEvent {
                id: e.id,
                event_type: "integration.archived".into(),
                document: doc,
            })
        );
        assert_eq!(got.type_name(), "integration.archived");
        assert!(got.known().is_none());
    }

    #[test]
    fn a_message_that_is_no_cloudevent_is_malformed() {
        let e = envelope(EventType::Paused);
        let good = e.to_cloudevent("/x");
        for (field, value) in [
            ("specversion", serde_json::json!("0.3")),
            ("id", serde_json::json!("42")),
            ("type", serde_json::json!(5)),
            ("tenantid", serde_json::json!("Not A Tenant")),
            ("integrationversion", serde_json::json!("7")),
            ("time", serde_json::json!("yesterday")),
        ] {
            let mut doc = good.clone();
            doc[field] = value;
            let err = ReceivedEvent::from_cloudevent_value(doc).unwrap_err();
            assert!(err.reason.contains(field), "{field}: {err}");
        }
        assert!(ReceivedEvent::from_cloudevent(b"{").is_err());
    }
}
