//! Every event type's CloudEvents document, as built and as each sink stored it on its real
//! server, validates against the CloudEvents JSON schema vendored in
//! `tests/fixtures/cloudevents/` (source in `SOURCE.md` there). The sink parts run when
//! `PATHOPS_TEST_NATS_URL` / `PATHOPS_TEST_REDIS_URL` are set and print a skip line otherwise.

use pathops_core::{EventEnvelope, EventType, IntegrationId};
use serde_json::Value;

const SCHEMA: &str = include_str!("fixtures/cloudevents/cloudevents.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the vendored schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{what}: {errors:?}\n{doc}");
}

fn every_event() -> Vec<EventEnvelope> {
    EventType::ALL
        .into_iter()
        .map(|t| {
            EventEnvelope::new(
                t,
                "acme".parse().unwrap(),
                IntegrationId::new(),
                2,
                time::OffsetDateTime::now_utc(),
                serde_json::json!({ "status": "active" }),
            )
        })
        .collect()
}

#[test]
fn every_event_type_is_a_valid_cloudevent_and_the_schema_has_teeth() {
    let validator = validator();
    for e in every_event() {
        assert_valid(
            &validator,
            &e.to_cloudevent("/pathops/catalog"),
            e.event_type.as_str(),
        );
    }
    let good = every_event()[0].to_cloudevent("/pathops/catalog");
    for (field, broken) in [
        ("source", Value::Null),
        ("id", serde_json::json!("")),
        ("time", serde_json::json!("yesterday")),
        ("data", serde_json::json!(42)),
    ] {
        let mut doc = good.clone();
        if broken.is_null() {
            doc.as_object_mut().unwrap().remove(field);
        } else {
            doc[field] = broken;
        }
        assert!(
            !validator.is_valid(&doc),
            "a broken `{field}` must not validate"
        );
    }
}

fn server_url(var: &str) -> Option<String> {
    pathops_testkit::services::service_url(var)
}

#[cfg(feature = "nats")]
#[tokio::test]
async fn jetstream_stores_valid_cloudevents_for_every_type() {
    use pathops_connectors::nats::NatsSink;
    use pathops_core::relay::EventSink;

    let Some(url) = server_url("PATHOPS_TEST_NATS_URL") else {
        return;
    };
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let sink = NatsSink::connect(&url, format!("pathops-ce-{unique}"))
        .await
        .unwrap();
    let stream_name = format!("PATHOPS_CE_{unique}");
    sink.ensure_stream(&stream_name, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let events = every_event();
    for e in &events {
        sink.publish(e).await.unwrap();
    }
    let stream = sink.jetstream().get_stream(&stream_name).await.unwrap();
    let validator = validator();
    for (seq, e) in (1..).zip(&events) {
        let message = stream.get_raw_message(seq).await.unwrap();
        let doc: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(doc["type"], e.event_type.as_str());
        assert_valid(&validator, &doc, e.event_type.as_str());
    }
    sink.jetstream().delete_stream(&stream_name).await.unwrap();
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_streams_store_valid_cloudevents_for_every_type() {
    use pathops_connectors::redis::RedisSinkBuilder;
    use redis::AsyncCommands;
    use redis::streams::StreamRangeReply;

    let Some(url) = server_url("PATHOPS_TEST_REDIS_URL") else {
        return;
    };
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let sink = RedisSinkBuilder::new()
        .with_url(url)
        .with_prefix(format!("pathops-ce:{unique}"))
        .connect()
        .await
        .unwrap();
    let events = every_event();
    for e in &events {
        sink.append(e).await.unwrap();
    }
    let stream = sink.stream_key(&events[0].tenant_id);
    let mut connection = sink.connection();
    let reply: StreamRangeReply = connection.xrange_all(&stream).await.unwrap();
    assert_eq!(reply.ids.len(), events.len());
    let validator = validator();
    for (entry, e) in reply.ids.iter().zip(&events) {
        let text: String = entry.get("cloudevent").unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["type"], e.event_type.as_str());
        assert_valid(&validator, &doc, e.event_type.as_str());
    }
    let _: () = connection.del(&stream).await.unwrap();
}
