//! What to change in a user's own files to go from their settings to the
//! advised ones: one entry per key, in the file Kafka reads it from.

use super::Candidate;
use crate::core::release::{KafkaVersion, Rule};
use crate::kafka_config::source::COMMAND_LINE;
use crate::kafka_config::{Reading, Role};
use serde::Serialize;

/// One key to set, change or remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The file to edit (as given on the command line), or the flag that
    /// would carry the key when no such file was given.
    pub file: String,
    pub key: String,
    /// The value now, where a file sets it.
    pub from: Option<String>,
    /// `file:line` of the current value.
    pub at: Option<String>,
    /// The value to write; `None`: remove the key, Kafka's default is the
    /// advised value.
    pub to: Option<String>,
    /// Set outside any file (a feature level): how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
}

/// How many of the advisor's settings differ between two candidates.
pub fn distance(a: &Candidate, b: &Candidate) -> usize {
    [
        a.acks != b.acks,
        a.min_isr != b.min_isr,
        a.idempotence != b.idempotence,
        a.flush_every != b.flush_every,
        a.elr != b.elr,
        a.unclean != b.unclean,
    ]
    .iter()
    .filter(|d| **d)
    .count()
}

/// The keys to change to go from `from` to `to`, given what `reading`
/// found in the files given with each role.
pub fn changes(
    from: &Candidate,
    to: &Candidate,
    reading: &Reading,
    files: &[(Role, String)],
    release: KafkaVersion,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |roles: &[(Role, &str)], value: Option<String>, default: &str| {
        // The file that sets the key now wins (a topic's setting overrides
        // the broker's).
        let found = reading.read.iter().rev().find(|r| {
            roles
                .iter()
                .any(|&(role, key)| r.role == role && r.key == key)
        });
        // Else the first role whose file was given; else the broker's (or
        // for the producer's keys, the producer's) file.
        let (role, key) = match found {
            Some(r) => (
                r.role,
                roles
                    .iter()
                    .find(|(role, _)| *role == r.role)
                    .map_or("", |x| x.1),
            ),
            None => *roles
                .iter()
                .find(|(role, _)| files.iter().any(|(r, _)| r == role))
                .unwrap_or(&roles[roles.len() - 1]),
        };
        let file = match found {
            Some(r) if r.file == COMMAND_LINE => format!("{} on the command line", role.flag()),
            Some(r) => r.file.clone(),
            None => files
                .iter()
                .find(|(r, f)| *r == role && !f.contains('='))
                .map_or_else(|| role.flag().to_string(), |(_, f)| f.clone()),
        };
        // Writing Kafka's default into a file that does not name the key
        // changes nothing: say "remove" only where a file sets it.
        let to = match value {
            Some(v) if found.is_none() && v == default => return,
            v => v,
        };
        out.push(Change {
            file,
            key: key.to_string(),
            from: found.map(|r| r.value.clone()),
            at: found.map(|r| r.at.clone()),
            to,
            how: None,
        });
    };
    if from.acks != to.acks {
        let default = if release.has(Rule::AcksAllByDefault) {
            "all"
        } else {
            "1"
        };
        push(
            &[(Role::Producer, "acks")],
            Some(to.acks.to_string()),
            default,
        );
    }
    if from.idempotence != to.idempotence {
        // The default follows acks, so name it either way.
        push(
            &[(Role::Producer, "enable.idempotence")],
            Some(to.idempotence.to_string()),
            "",
        );
    }
    if from.min_isr != to.min_isr {
        push(
            &[
                (Role::Topic, "min.insync.replicas"),
                (Role::Broker, "min.insync.replicas"),
            ],
            Some(to.min_isr.to_string()),
            "1",
        );
    }
    if from.unclean != to.unclean {
        push(
            &[
                (Role::Topic, "unclean.leader.election.enable"),
                (Role::Broker, "unclean.leader.election.enable"),
            ],
            Some(to.unclean.to_string()),
            "false",
        );
    }
    if from.flush_every != to.flush_every {
        push(
            &[
                (Role::Topic, "flush.messages"),
                (Role::Broker, "log.flush.interval.messages"),
            ],
            to.flush_every.map(|n| n.to_string()),
            "",
        );
    }
    if from.elr != to.elr {
        if release.has(Rule::EligibleLeaderReplicasByDefault) {
            // From 4.1 ELR is a feature level, set once for the cluster.
            let level = u8::from(to.elr);
            out.push(Change {
                file: "the cluster's features".into(),
                key: "eligible.leader.replicas.version".into(),
                from: Some(u8::from(from.elr).to_string()),
                at: None,
                to: Some(level.to_string()),
                how: Some(format!(
                    "bin/kafka-features.sh --bootstrap-server <broker> upgrade \
                     --feature eligible.leader.replicas.version={level}"
                )),
            });
        } else {
            push(
                &[(Role::Broker, "eligible.leader.replicas.enable")],
                Some(to.elr.to_string()),
                "false",
            );
        }
    }
    out
}

/// The changes as a diff of keys, file by file.
pub fn to_text(changes: &[Change]) -> String {
    let mut s = String::new();
    let mut files: Vec<&str> = Vec::new();
    for c in changes {
        if !files.contains(&c.file.as_str()) {
            files.push(&c.file);
        }
    }
    for file in files {
        s.push_str(&format!("  {file}\n"));
        for c in changes.iter().filter(|c| c.file == file) {
            if let Some(from) = &c.from {
                let at =
                    c.at.as_deref()
                        .map(|a| format!("   ({a})"))
                        .unwrap_or_default();
                s.push_str(&format!("    - {}={from}{at}\n", c.key));
            }
            match &c.to {
                Some(to) => s.push_str(&format!("    + {}={to}\n", c.key)),
                None => s.push_str("      (remove the line: Kafka's default is the advice)\n"),
            }
            if let Some(how) = &c.how {
                s.push_str(&format!("      run: {how}\n"));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::Acks;

    fn candidate() -> Candidate {
        Candidate {
            acks: Acks::One,
            min_isr: 1,
            idempotence: false,
            flush_every: None,
            elr: false,
            unclean: true,
        }
    }

    fn reading(args: &[(Role, &str)], release: KafkaVersion) -> Reading {
        crate::kafka_config::read(args, release).unwrap()
    }

    #[test]
    fn a_key_is_changed_where_it_is_set_and_added_where_kafka_reads_it() {
        let release: KafkaVersion = "4.0".parse().unwrap();
        let args = [
            (Role::Broker, "unclean.leader.election.enable=true"),
            (Role::Topic, "min.insync.replicas=1"),
            (Role::Producer, "acks=1"),
        ];
        let files: Vec<(Role, String)> = args.iter().map(|(r, a)| (*r, a.to_string())).collect();
        let from = candidate();
        let to = Candidate {
            acks: Acks::All,
            min_isr: 2,
            idempotence: true,
            flush_every: Some(1),
            elr: true,
            unclean: false,
        };
        let c = changes(&from, &to, &reading(&args, release), &files, release);
        let get = |k: &str| {
            c.iter()
                .find(|c| c.key == k)
                .unwrap_or_else(|| panic!("{k}: {c:?}"))
        };
        assert_eq!(get("acks").to.as_deref(), Some("all"));
        assert_eq!(get("acks").from.as_deref(), Some("1"));
        // The topic's own setting is the one Kafka uses: change it there.
        assert_eq!(
            get("min.insync.replicas").file,
            "--topic-config on the command line"
        );
        assert_eq!(
            get("unclean.leader.election.enable").file,
            "--broker-config on the command line"
        );
        assert_eq!(get("enable.idempotence").to.as_deref(), Some("true"));
        // No file sets a flush interval: the topic's key, in no file yet.
        assert_eq!(get("flush.messages").to.as_deref(), Some("1"));
        assert_eq!(get("flush.messages").from, None);
        // 4.0's ELR is a broker setting.
        assert_eq!(
            get("eligible.leader.replicas.enable").to.as_deref(),
            Some("true")
        );
        assert_eq!(c.len(), 6, "{c:?}");
        // Back again: the flush line goes, leaving Kafka's default.
        let back = changes(&to, &from, &reading(&args, release), &files, release);
        assert!(
            back.iter()
                .any(|c| c.key == "flush.messages" && c.to.is_none())
        );
    }

    #[test]
    fn from_4_1_elr_is_a_feature_level() {
        let release: KafkaVersion = "4.1".parse().unwrap();
        let from = candidate();
        let to = Candidate { elr: true, ..from };
        let c = changes(&from, &to, &reading(&[], release), &[], release);
        assert_eq!(c.len(), 1);
        assert!(
            c[0].how
                .as_deref()
                .unwrap()
                .contains("eligible.leader.replicas.version=1")
        );
    }

    #[test]
    fn kafkas_default_is_not_written_into_a_file_that_lacks_the_key() {
        let release: KafkaVersion = "4.3".parse().unwrap();
        let from = Candidate {
            unclean: true,
            ..candidate()
        };
        let to = Candidate {
            unclean: false,
            ..from
        };
        // Nothing in any file: unclean came from elsewhere; writing Kafka's
        // default changes nothing.
        let c = changes(&from, &to, &reading(&[], release), &[], release);
        assert!(c.is_empty(), "{c:?}");
    }
}
