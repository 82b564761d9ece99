//! A user's own Kafka configuration, read into the settings the checker
//! decides: `server.properties`, a topic's configs and a producer's
//! properties (or `kafka-configs.sh --describe` output, or `key=value` on
//! the command line). Every key is accounted for: read (with what it
//! means for the check), ignored as having no bearing on durability, or
//! not understood. What no file names takes Kafka's default for the
//! release, as a real cluster would.

mod ignored_keys;
mod meaning;
pub mod source;

use crate::core::release::KafkaVersion;
use crate::model::ModelConfig;
use crate::model::config::Named;
pub use meaning::Settings;
use serde::Serialize;
pub use source::{Entry, Origin};

/// Which file a setting was given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Broker,
    Topic,
    Producer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Broker, Role::Topic, Role::Producer];

    pub fn flag(self) -> &'static str {
        match self {
            Role::Broker => "--broker-config",
            Role::Topic => "--topic-config",
            Role::Producer => "--producer-config",
        }
    }

    /// Whether `key` is one of this file's keys with no bearing on the check.
    fn ignores(self, key: &str) -> bool {
        let (own, shared): (&[&str], &[&str]) = match self {
            Role::Broker => (ignored_keys::BROKER, ignored_keys::CLIENT_AND_BROKER),
            Role::Topic => (ignored_keys::TOPIC, &[]),
            Role::Producer => (ignored_keys::PRODUCER, ignored_keys::CLIENT_AND_BROKER),
        };
        own.contains(&key) || shared.contains(&key)
    }
}

/// A key insync read, and what it means for the check.
#[derive(Clone, Debug, Serialize)]
pub struct Read {
    pub key: String,
    pub value: String,
    pub at: String,
    pub meaning: String,
    /// The file (or "the command line") it was read from, and as what.
    #[serde(skip)]
    pub file: String,
    #[serde(skip)]
    pub role: Role,
}

/// A key left out of the check, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Left {
    pub key: String,
    pub at: String,
    pub why: String,
}

/// Everything read from the configuration given.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reading {
    pub read: Vec<Read>,
    /// Known Kafka keys with no bearing on what insync decides.
    pub ignored: Vec<Left>,
    /// Keys insync does not know: typos, or settings it has no list for.
    pub not_understood: Vec<Left>,
    /// Kafka's defaults taken for what no file names.
    pub defaults: Vec<String>,
    #[serde(skip)]
    pub settings: Settings,
}

impl Reading {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.ignored.is_empty() && self.not_understood.is_empty()
    }

    /// For people: what was read, what was not, and Kafka's defaults.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if !self.read.is_empty() {
            s.push_str("Read from your configuration:\n");
            for r in &self.read {
                s.push_str(&format!(
                    "  {}={}  ({})\n    {}\n",
                    r.key, r.value, r.at, r.meaning
                ));
            }
        }
        if !self.defaults.is_empty() {
            s.push_str("Kafka's defaults, for what no file names:\n");
            for d in &self.defaults {
                s.push_str(&format!("  {d}\n"));
            }
        }
        if !self.ignored.is_empty() {
            let keys: Vec<&str> = self.ignored.iter().map(|l| l.key.as_str()).collect();
            s.push_str(&format!(
                "Ignored, no bearing on durability ({}): {}\n",
                keys.len(),
                keys.join(", ")
            ));
            for l in self.ignored.iter().filter(|l| !l.why.is_empty()) {
                s.push_str(&format!("  {} ({}): {}\n", l.key, l.at, l.why));
            }
        }
        if !self.not_understood.is_empty() {
            s.push_str(&format!(
                "Not understood ({}):\n",
                self.not_understood.len()
            ));
            for l in &self.not_understood {
                s.push_str(&format!("  {} ({}){}\n", l.key, l.at, l.why));
            }
        }
        s
    }
}

/// Reads every argument given for each role, in order (a later setting of
/// a key wins, as in Kafka's own files).
pub fn read(args: &[(Role, &str)], release: KafkaVersion) -> Result<Reading, String> {
    let mut reading = Reading::default();
    for &(role, arg) in args {
        for entry in source::entries(arg).map_err(|e| format!("{}: {e}", role.flag()))? {
            meaning::take(role, entry, &mut reading)?;
        }
    }
    reading.defaults = reading.settings.fill_defaults(release);
    Ok(reading)
}

impl Reading {
    /// The settings read, over `c`; the release-dependent ones named, so
    /// that the release's defaults do not replace them.
    pub fn apply(&self, c: &mut ModelConfig, named: &mut Named) {
        self.settings.apply(c, named)
    }
}

/// The known key nearest `key`, if near enough to be a typo of it.
fn suggestion(key: &str) -> Option<&'static str> {
    let candidates = [
        ignored_keys::BROKER,
        ignored_keys::TOPIC,
        ignored_keys::PRODUCER,
        ignored_keys::CLIENT_AND_BROKER,
        meaning::READ_KEYS,
    ]
    .into_iter()
    .flatten()
    .copied();
    candidates
        .map(|k| (strsim::levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 8))
        .min()
        .map(|(_, k)| k)
}
