//! Trace lines: every protocol decision a broker or the controller makes,
//! as one JSON object per line, stamped when it was made. `insync conform`
//! replays them against the specification.

use crate::core::effects::Event;
use crate::wire::batch::Batch;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Where a process's trace lines go, if it traces.
pub type TraceSink = Option<Arc<Mutex<std::fs::File>>>;

/// A trace file at `path`, or no trace.
pub fn open_sink(path: Option<&std::path::Path>) -> std::io::Result<TraceSink> {
    path.map(|p| std::fs::File::create(p).map(|f| Arc::new(Mutex::new(f))))
        .transpose()
}

/// Microseconds on the machine's clock: every process of a cluster on one
/// machine stamps its lines on the same clock.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One decision as a trace line: the event's fields and its story text.
pub fn trace_line(e: &Event<Batch>) -> serde_json::Value {
    serde_json::json!({"event": e, "text": e.to_string(), "ts_us": now_us()})
}

/// One partition's decisions on one node, labelled for the trace.
#[derive(Debug, Clone)]
pub struct PartitionTrace {
    pub sink: Arc<Mutex<std::fs::File>>,
    pub topic: String,
    pub partition: i32,
    pub node: String,
}

impl PartitionTrace {
    /// Writes `events` at once, so a process killed after this call leaves
    /// them in its trace. A trace that cannot be written loses no data:
    /// the error is said and the process goes on serving.
    pub fn write(&self, events: &[Event<Batch>]) {
        if events.is_empty() {
            return;
        }
        let mut text = String::new();
        for e in events {
            let mut line = trace_line(e);
            line["topic"] = self.topic.clone().into();
            line["partition"] = self.partition.into();
            line["node"] = self.node.clone().into();
            text.push_str(&line.to_string());
            text.push('\n');
        }
        let mut f = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(text.as_bytes()) {
            eprintln!("insync {}: cannot write the trace: {e}", self.node);
        }
    }
}
