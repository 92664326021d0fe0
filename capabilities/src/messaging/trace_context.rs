//! Distributed tracing of the messages guests publish. OpenTelemetry lives in the gateway; this
//! module only lets the gateway's propagator open a span around each publish and write its W3C
//! trace context into the message, as the CloudEvents distributed-tracing extension
//! (<https://github.com/cloudevents/spec/blob/main/cloudevents/extensions/distributed-tracing.md>)
//! says: the attributes `traceparent` and `tracestate`, carried as `ce-traceparent` /
//! `ce-tracestate` metadata on an event and as plain `traceparent` / `tracestate` metadata (like
//! HTTP headers) on a plain message. Until the gateway installs a propagator (tracing off, the
//! default) nothing is done on a publish.

use super::bus::Message;
use std::sync::{Arc, OnceLock};

/// Opens the span of one publish to `subject` and returns it with the trace context to carry:
/// `(key, value)` pairs such as `("traceparent", "00-…-01")`, keys without any `ce-` prefix.
pub type Propagator = Arc<dyn Fn(&str) -> (tracing::Span, Vec<(String, String)>) + Send + Sync>;

static PROPAGATOR: OnceLock<Propagator> = OnceLock::new();

/// Installs the process's propagator, once; `false` when one was installed already.
pub fn install(propagator: Propagator) -> bool {
    PROPAGATOR.set(propagator).is_ok()
}

/// The span of a publish of `message`, after writing its trace context into its metadata
/// (unless the guest wrote a `traceparent` itself); `None`, and nothing done, with tracing off.
pub(crate) fn publishing(message: &mut Message) -> Option<tracing::Span> {
    let propagator = PROPAGATOR.get()?;
    let (span, context) = propagator(&message.subject);
    inject(message, context);
    Some(span)
}

/// Adds `context` to `message`'s metadata: `ce-`-prefixed on an event, plain on a plain
/// message; nothing when it already carries a `traceparent` either way.
fn inject(message: &mut Message, context: Vec<(String, String)>) {
    let carried = message.metadata.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("traceparent") || k.eq_ignore_ascii_case("ce-traceparent")
    });
    if carried {
        return;
    }
    let event = message
        .metadata
        .iter()
        .any(|(k, _)| super::cloudevent::is_attribute_key(k));
    for (key, value) in context {
        let key = if event { format!("ce-{key}") } else { key };
        message.metadata.push((key, value));
    }
}

/// The trace context a message carries, by its key without prefix (`traceparent`): the plain
/// metadata pair, else the `ce-` one (names compared case-insensitively).
pub fn carried<'m>(message: &'m Message, key: &str) -> Option<&'m str> {
    let plain = message
        .metadata
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key));
    let event = || {
        message.metadata.iter().find(|(k, _)| {
            k.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ce-"))
                && k.get(3..)
                    .is_some_and(|rest| rest.eq_ignore_ascii_case(key))
        })
    };
    plain.or_else(event).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn context() -> Vec<(String, String)> {
        vec![("traceparent".into(), PARENT.into())]
    }

    #[test]
    fn a_plain_message_carries_the_context_as_plain_metadata() {
        let mut message = Message::new("orders", "x");
        inject(&mut message, context());
        assert_eq!(message.metadata, [("traceparent".into(), PARENT.into())]);
        assert_eq!(carried(&message, "traceparent"), Some(PARENT));
    }

    #[test]
    fn an_event_carries_it_as_the_distributed_tracing_extension() {
        let mut message = Message::new("orders", "x")
            .with_metadata("ce-specversion", "1.0")
            .with_metadata("ce-type", "t")
            .with_metadata("ce-source", "/s")
            .with_metadata("ce-id", "1");
        inject(&mut message, context());
        assert_eq!(
            message.metadata.last(),
            Some(&("ce-traceparent".into(), PARENT.into()))
        );
        assert_eq!(carried(&message, "traceparent"), Some(PARENT));
        // Still a valid event: the extension attribute passes the event rules.
        assert!(super::super::cloudevent::canonical(message).is_ok());
    }

    #[test]
    fn a_guests_own_traceparent_is_kept() {
        let mut message = Message::new("orders", "x").with_metadata("Traceparent", "mine");
        inject(&mut message, context());
        assert_eq!(message.metadata, [("Traceparent".into(), "mine".into())]);
        assert_eq!(carried(&message, "traceparent"), Some("mine"));
        assert_eq!(carried(&Message::new("a", "b"), "traceparent"), None);
    }
}
