//! A `tracing` layer that keeps every span and event, with their fields, for
//! tests to read: installed once per test binary as the global subscriber
//! ([`global`]), or for one thread ([`Capture::new`] and
//! `tracing::dispatcher::with_default`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as Values};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};

/// Field names and values (`Display`ed values as text, others as `Debug`).
pub(crate) type Fields = BTreeMap<String, String>;

/// What was seen.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    /// A span was created, with the fields it had then.
    Opened { name: &'static str, fields: Fields },
    /// A span closed, with every field recorded by then.
    Closed { name: &'static str, fields: Fields },
    /// An event, with the fields of the span it happened in (if any).
    Event {
        level: Level,
        fields: Fields,
        span: Option<Fields>,
    },
}

impl Record {
    /// The `cache` field of the record, or of the span of an event.
    pub(crate) fn cache(&self) -> Option<&str> {
        let fields = match self {
            Record::Opened { fields, .. } | Record::Closed { fields, .. } => fields,
            Record::Event { fields, span, .. } => match fields.get("cache") {
                Some(_) => fields,
                None => span.as_ref()?,
            },
        };
        fields.get("cache").map(String::as_str)
    }
}

/// The records kept so far, shared with the layer.
#[derive(Clone, Default)]
pub(crate) struct Capture {
    records: Arc<Mutex<Vec<Record>>>,
}

impl Capture {
    /// A new capture and a dispatcher that feeds it (for `with_default`).
    pub(crate) fn new() -> (Capture, Dispatch) {
        let capture = Capture::default();
        let layer = CaptureLayer {
            records: Arc::clone(&capture.records),
        };
        (capture, Dispatch::new(Registry::default().with(layer)))
    }

    pub(crate) fn all(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    /// The records whose cache is `prefix`.
    pub(crate) fn of_cache(&self, prefix: &str) -> Vec<Record> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .filter(|record| record.cache() == Some(prefix))
            .cloned()
            .collect()
    }

    /// The closed `cachetool.load` spans of the cache `prefix`, their fields.
    pub(crate) fn loads(&self, prefix: &str) -> Vec<Fields> {
        self.of_cache(prefix)
            .into_iter()
            .filter_map(|record| match record {
                Record::Closed {
                    name: "cachetool.load",
                    fields,
                } => Some(fields),
                _ => None,
            })
            .collect()
    }

    /// The events of the cache `prefix`.
    pub(crate) fn events(&self, prefix: &str) -> Vec<(Level, Fields)> {
        self.of_cache(prefix)
            .into_iter()
            .filter_map(|record| match record {
                Record::Event { level, fields, .. } => Some((level, fields)),
                _ => None,
            })
            .collect()
    }
}

/// The capture behind this test binary's global subscriber.
pub(crate) fn global() -> &'static Capture {
    static GLOBAL: LazyLock<Capture> = LazyLock::new(|| {
        let (capture, dispatch) = Capture::new();
        tracing::dispatcher::set_global_default(dispatch).expect("the only global subscriber");
        capture
    });
    &GLOBAL
}

struct CaptureLayer {
    records: Arc<Mutex<Vec<Record>>>,
}

struct FieldVisitor<'a>(&'a mut Fields);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for CaptureLayer {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut fields = Fields::new();
        attributes.record(&mut FieldVisitor(&mut fields));
        self.records.lock().unwrap().push(Record::Opened {
            name: attributes.metadata().name(),
            fields: fields.clone(),
        });
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Values<'_>, context: Context<'_, S>) {
        if let Some(span) = context.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(&mut FieldVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut FieldVisitor(&mut fields));
        let span = context
            .event_span(event)
            .and_then(|span| span.extensions().get::<Fields>().cloned());
        self.records.lock().unwrap().push(Record::Event {
            level: *event.metadata().level(),
            fields,
            span,
        });
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        if let Some(span) = context.span(&id) {
            let fields = span
                .extensions()
                .get::<Fields>()
                .cloned()
                .unwrap_or_default();
            self.records.lock().unwrap().push(Record::Closed {
                name: span.metadata().name(),
                fields,
            });
        }
    }
}
