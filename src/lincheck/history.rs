//! `history.jsonl`: one operation per line, as a client saw it.
//!
//! ```json
//! {"process": 0, "f": "append", "partition": "t-0", "value": "v1", "invoke_ns": 10, "complete_ns": 25, "type": "ok", "offset": 3}
//! {"process": 1, "f": "poll", "partition": "t-0", "invoke_ns": 30, "complete_ns": 41, "type": "ok", "records": [[3, "v1"], [4, "v2"]]}
//! ```
//!
//! - `type` is `ok`, `fail` (a definite error: the operation took no
//!   effect) or `info` (unknown: a timeout or a lost connection).
//! - `append` carries `value`, and `offset` when ok.
//! - `poll` carries the `records` it returned as `[offset, value]` pairs;
//!   `"seek": true` marks a poll after the consumer moved its position,
//!   which restarts its monotonicity check.
//! - Times come from one monotonic clock shared by every process.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "f", rename_all = "lowercase", deny_unknown_fields)]
pub enum Op {
    Append {
        process: u64,
        partition: String,
        value: String,
        invoke_ns: u64,
        complete_ns: u64,
        #[serde(rename = "type")]
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    },
    Poll {
        process: u64,
        partition: String,
        invoke_ns: u64,
        complete_ns: u64,
        #[serde(rename = "type")]
        outcome: Outcome,
        #[serde(default)]
        records: Vec<(u64, String)>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        seek: bool,
    },
}

impl Op {
    pub fn process(&self) -> u64 {
        match self {
            Op::Append { process, .. } | Op::Poll { process, .. } => *process,
        }
    }
    /// When it was invoked and when it completed, in ns.
    pub fn outcome(&self) -> Outcome {
        match self {
            Op::Append { outcome, .. } | Op::Poll { outcome, .. } => *outcome,
        }
    }

    pub fn times(&self) -> (u64, u64) {
        match self {
            Op::Append {
                invoke_ns,
                complete_ns,
                ..
            }
            | Op::Poll {
                invoke_ns,
                complete_ns,
                ..
            } => (*invoke_ns, *complete_ns),
        }
    }
    pub fn partition(&self) -> &str {
        match self {
            Op::Append { partition, .. } | Op::Poll { partition, .. } => partition,
        }
    }
}

/// A line that is not an operation, with its line number (from 1).
#[derive(Debug, PartialEq, Eq)]
pub struct HistoryError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a whole history; blank lines are skipped. Operations are
/// numbered by their position among the parsed ones.
pub fn parse(text: &str) -> Result<Vec<Op>, HistoryError> {
    let mut ops = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let op: Op = serde_json::from_str(line).map_err(|e| HistoryError {
            line: i + 1,
            message: e.to_string(),
        })?;
        check(&op).map_err(|message| HistoryError {
            line: i + 1,
            message,
        })?;
        ops.push(op);
    }
    Ok(ops)
}

/// What the JSON schema cannot say.
fn check(op: &Op) -> Result<(), String> {
    let (invoke, complete) = op.times();
    if complete < invoke {
        return Err(format!(
            "completes at {complete} ns, before its invocation at {invoke} ns"
        ));
    }
    match op {
        Op::Append {
            outcome: Outcome::Ok,
            offset: None,
            ..
        } => Err("an ok append must name its offset".into()),
        Op::Append {
            outcome: Outcome::Fail | Outcome::Info,
            offset: Some(_),
            ..
        } => Err("only an ok append has an offset".into()),
        Op::Poll {
            outcome: Outcome::Fail | Outcome::Info,
            records,
            ..
        } if !records.is_empty() => Err("only an ok poll returns records".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_and_bad_lines_name_their_number() {
        let text = r#"{"process":0,"f":"append","partition":"t-0","value":"a","invoke_ns":1,"complete_ns":2,"type":"ok","offset":0}

{"process":1,"f":"poll","partition":"t-0","invoke_ns":3,"complete_ns":4,"type":"ok","records":[[0,"a"]]}"#;
        let ops = parse(text).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].process(), 1);
        let bad = parse("{\"process\":0,\"f\":\"append\"}\n").unwrap_err();
        assert_eq!(bad.line, 1);
        assert!(bad.message.contains("missing field"), "{bad}");
        let no_offset = r#"{"process":0,"f":"append","partition":"p","value":"a","invoke_ns":1,"complete_ns":2,"type":"ok"}"#;
        assert_eq!(parse(&format!("\n{no_offset}")).unwrap_err().line, 2);
        let backwards =
            r#"{"process":0,"f":"poll","partition":"p","invoke_ns":5,"complete_ns":2,"type":"ok"}"#;
        assert!(
            parse(backwards)
                .unwrap_err()
                .message
                .contains("before its invocation")
        );
        assert!(parse("not json").is_err());
    }
}
