//! `insync releases`: which protocol rules each Kafka release has, as the
//! README shows it (a test keeps the two equal).

use crate::core::release::{NEWEST, OLDEST, RULES, TABLE_RELEASES};
use serde_json::{Value, json};

/// The rule × release table in Markdown.
pub fn to_markdown() -> String {
    let mut out = String::from("| rule | from | Kafka decides it in | modelled |");
    for v in TABLE_RELEASES {
        out.push_str(&format!(" {v} |"));
    }
    out.push_str("\n|---|---|---|---|");
    out.push_str(&"---|".repeat(TABLE_RELEASES.len()));
    out.push('\n');
    for rule in RULES {
        let i = rule.info();
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} |",
            i.name,
            i.source,
            i.kafka,
            if i.modelled { "yes" } else { "not yet" }
        ));
        for v in TABLE_RELEASES {
            out.push_str(if v.has(*rule) { " ✓ |" } else { " — |" });
        }
        out.push('\n');
    }
    out
}

/// The same as plain text, one rule per paragraph.
pub fn to_text() -> String {
    let mut out = format!("Kafka releases modelled: {OLDEST} to {NEWEST} (default {NEWEST}).\n");
    for rule in RULES {
        let i = rule.info();
        let has: Vec<String> = TABLE_RELEASES
            .iter()
            .filter(|v| v.has(*rule))
            .map(|v| v.to_string())
            .collect();
        out.push_str(&format!(
            "\n{} ({}){}\n  {}\n  Kafka: {}\n  in: {}\n",
            i.name,
            i.source,
            if i.modelled { "" } else { ", not modelled yet" },
            i.what,
            i.kafka,
            if has.is_empty() {
                "none of the releases shown".into()
            } else {
                has.join(", ")
            },
        ));
    }
    out
}

pub fn to_json() -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let i = rule.info();
            let releases: serde_json::Map<String, Value> = TABLE_RELEASES
                .iter()
                .map(|v| (v.to_string(), Value::Bool(v.has(*rule))))
                .collect();
            json!({
                "name": i.name,
                "source": i.source,
                "kafka": i.kafka,
                "modelled": i.modelled,
                "what": i.what,
                "releases": releases,
            })
        })
        .collect();
    json!({ "oldest": OLDEST, "newest": NEWEST, "rules": rules })
}
