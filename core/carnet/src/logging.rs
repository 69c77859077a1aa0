//! Forwarding the core's `tracing` events to a platform log sink.
//!
//! Each [`crate::Carnet`] owns a `tracing` dispatcher built on its own sink, entered for the
//! duration of every facade call: no global subscriber is installed, so two instances (or an
//! application's own `tracing` setup) do not interfere. Events never carry health data or full
//! identifiers: components log redacted forms only.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Severity of a log record, from the most to the least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Fine-grained tracing.
    Trace,
    /// Diagnostics for developers.
    Debug,
    /// Normal operation worth noting.
    Info,
    /// Something unexpected that Carnet handled.
    Warn,
    /// An operation failed.
    Error,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// How serious it is.
    pub level: LogLevel,
    /// The module that logged it (`carnet::clock_guard`, ...).
    pub target: String,
    /// The message, then `key=value` fields.
    pub message: String,
}

/// Receives the core's log records (Logcat, os_log, stderr...).
pub trait LogSink: Send + Sync {
    /// Takes one record. Must not block for long: it runs on the caller's thread.
    fn log(&self, record: LogRecord);
}

impl From<&tracing::Level> for LogLevel {
    fn from(level: &tracing::Level) -> Self {
        match *level {
            tracing::Level::TRACE => LogLevel::Trace,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::ERROR => LogLevel::Error,
        }
    }
}

/// The `tracing` layer that hands events at or above a level to a [`LogSink`].
struct SinkLayer {
    sink: Arc<dyn LogSink>,
    min_level: LogLevel,
}

impl<S: tracing::Subscriber> Layer<S> for SinkLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        let level = LogLevel::from(metadata.level());
        if level < self.min_level {
            return;
        }
        let mut message = MessageWriter::default();
        event.record(&mut message);
        self.sink.log(LogRecord {
            level,
            target: metadata.target().to_owned(),
            message: message.text,
        });
    }
}

/// Renders an event as `message key=value key=value`.
#[derive(Default)]
struct MessageWriter {
    text: String,
}

impl Visit for MessageWriter {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let separator = if self.text.is_empty() { "" } else { " " };
        // Writing to a String cannot fail.
        let _ = if field.name() == "message" {
            write!(self.text, "{separator}{value:?}")
        } else {
            write!(self.text, "{separator}{}={value:?}", field.name())
        };
    }
}

/// The dispatcher a facade instance enters on each call: its sink, or nothing.
pub(crate) fn dispatch_for(
    sink: Option<Arc<dyn LogSink>>,
    min_level: LogLevel,
) -> tracing::Dispatch {
    match sink {
        Some(sink) => tracing::Dispatch::new(
            tracing_subscriber::registry().with(SinkLayer { sink, min_level }),
        ),
        None => tracing::Dispatch::none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<LogRecord>>);
    impl LogSink for Collect {
        fn log(&self, record: LogRecord) {
            self.0.lock().unwrap().push(record);
        }
    }

    #[test]
    fn events_at_or_above_the_level_reach_the_sink() {
        let sink = Arc::new(Collect::default());
        let dispatch = dispatch_for(Some(sink.clone()), LogLevel::Info);
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::debug!("hidden");
            tracing::info!(count = 3, "shown");
            tracing::error!("failed");
        });
        let records = sink.0.lock().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].level, LogLevel::Info);
        assert_eq!(records[0].message, "shown count=3");
        assert_eq!(records[1].level, LogLevel::Error);
        assert!(records[0].target.contains("logging"));
    }
}
