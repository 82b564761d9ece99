//! Scenario files (`models/*.toml`): Kafka settings under their Kafka
//! names, the model's bounds, the expected verdict of every property, and
//! why.

use crate::core::config::Truncation;
use crate::core::release::{KafkaVersion, NEWEST};
use crate::model::ModelConfig;
use crate::model::config::Named;
use crate::model::properties::properties;
use crate::model::state::KafkaState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Holds,
    Violated,
    /// Not decided: random walks, or a search stopped before it was done,
    /// neither met a deciding state. An expectation only in a scenario
    /// checked by random walks (`[check] walks`).
    Unknown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Unknown => "unknown",
        })
    }
}

/// The expected verdicts, by property name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect(pub BTreeMap<String, Verdict>);

impl Expect {
    pub fn get(&self, name: &str) -> Option<Verdict> {
        self.0.get(name).copied()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSection {
    records: Option<u8>,
    crashes: Option<u8>,
    crash_mode: Option<String>,
    lag_removals: Option<u8>,
    controlled_shutdowns: Option<u8>,
    preferred_elections: Option<u8>,
    rolling_restart: Option<bool>,
    network_partitions: Option<u8>,
    network: Option<String>,
    truncation: Option<String>,
    strict_min_isr: Option<bool>,
    consumer: Option<bool>,
}

/// How the file is checked, when not by the exhaustive search.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSection {
    walks: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    why: String,
    /// Kafka's settings that differ from the model's defaults; the whole
    /// is read as one `KafkaSettings`.
    #[serde(default)]
    kafka: toml::Table,
    #[serde(default)]
    model: ModelSection,
    #[serde(default)]
    check: CheckSection,
    #[serde(default)]
    expect: BTreeMap<String, Verdict>,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: Option<PathBuf>,
    pub name: String,
    pub why: String,
    pub config: ModelConfig,
    pub expect: Expect,
    /// The release-dependent settings the file names.
    pub named: Named,
    /// `[check] walks`: decided by this many seeded random walks, for a
    /// configuration too large to search exhaustively. A walk proves a
    /// violation (or reaches a `sometimes` state) and proves nothing else.
    pub walks: Option<u64>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut s = Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        s.name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        s.path = Some(path.to_path_buf());
        Ok(s)
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        let mut file: ScenarioFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let version = match file.kafka.remove("version") {
            None => None,
            Some(toml::Value::String(v)) => {
                Some(v.parse().map_err(|e| format!("[kafka] version: {e}"))?)
            }
            Some(other) => {
                return Err(format!(
                    "[kafka] version: a Kafka version is a string such as \"4.1\", not {other}"
                ));
            }
        };
        let named = Named {
            acks: file.kafka.contains_key("acks"),
            enable_idempotence: file.kafka.contains_key("enable.idempotence"),
            eligible_leader_replicas: file.kafka.contains_key("eligible.leader.replicas.enable"),
            strict_min_isr: file.model.strict_min_isr.is_some(),
            truncation: file.model.truncation.is_some(),
        };
        let mut c = ModelConfig::default();
        let mut kafka = toml::Table::try_from(&c.kafka).map_err(|e| e.to_string())?;
        kafka.extend(file.kafka);
        c.kafka = kafka.try_into().map_err(|e| format!("[kafka] {e}"))?;
        let m = file.model;
        set(&mut c.records, m.records);
        set(&mut c.crashes, m.crashes);
        set(&mut c.lag_removals, m.lag_removals);
        set(&mut c.controlled_shutdowns, m.controlled_shutdowns);
        set(&mut c.preferred_elections, m.preferred_elections);
        set(&mut c.rolling_restart, m.rolling_restart);
        set(&mut c.network_partitions, m.network_partitions);
        set(&mut c.strict_min_isr, m.strict_min_isr);
        set(&mut c.consumer, m.consumer);
        if let Some(v) = m.crash_mode {
            c.crash_mode = v.parse().map_err(|e| format!("[model] crash_mode: {e}"))?;
        }
        if let Some(v) = m.network {
            c.network = v.parse().map_err(|e| format!("[model] network: {e}"))?;
        }
        if let Some(v) = m.truncation {
            c.truncation = parse_truncation(&v).map_err(|e| format!("[model] truncation: {e}"))?;
        }
        c.apply_release(version.unwrap_or(NEWEST), named)
            .map_err(|e| format!("[kafka] version: {e}"))?;
        c.validate()?;
        let expect = Expect(file.expect);
        let walks = file.check.walks;
        if walks == Some(0) {
            return Err("[check] walks: at least 1".into());
        }
        if walks.is_some() && c.network != crate::model::NetworkKind::Ordered {
            return Err(format!(
                "[check] walks: random walks model the ordered network only, not {}",
                c.network
            ));
        }
        check_expect_names(&c, &expect, walks.is_some())?;
        Ok(Scenario {
            path: None,
            name: String::new(),
            why: file.why,
            config: c,
            expect,
            named,
            walks,
        })
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

pub fn parse_truncation(v: &str) -> Result<Truncation, String> {
    match v {
        "leader-epoch" => Ok(Truncation::LeaderEpoch),
        "high-watermark" => Ok(Truncation::HighWatermark),
        other => Err(format!(
            "must be \"leader-epoch\" or \"high-watermark\", not {other:?}"
        )),
    }
}

/// Every `[expect]` key must name a property this configuration checks,
/// with a verdict the check can give: random walks (`walks`) show a
/// violation or reach a `sometimes` state, and leave the rest unknown; the
/// exhaustive search decides everything.
fn check_expect_names(c: &ModelConfig, e: &Expect, walks: bool) -> Result<(), String> {
    let known = properties::<KafkaState>(c);
    for (name, verdict) in &e.0 {
        let Some((_, expectation, _)) = known.iter().find(|(n, _, _)| n == name) else {
            let names: Vec<&str> = known.iter().map(|(n, _, _)| *n).collect();
            return Err(format!(
                "[expect] {name}: no such property for this configuration (known: {})",
                names.join(", ")
            ));
        };
        let sometimes = *expectation == stateright::Expectation::Sometimes;
        let unreachable = match (walks, verdict) {
            (false, Verdict::Unknown) => Some(
                "an exhaustive check decides every property: expect \"holds\" or \"violated\", not \"unknown\"",
            ),
            (true, Verdict::Holds) if !sometimes => Some(
                "random walks ([check] walks) never show that an always property holds: expect \"violated\" or \"unknown\"",
            ),
            (true, Verdict::Violated) if sometimes => Some(
                "random walks ([check] walks) never show that a state is unreachable: expect \"holds\" or \"unknown\"",
            ),
            _ => None,
        };
        if let Some(why) = unreachable {
            return Err(format!("[expect] {name} = \"{verdict}\": {why}"));
        }
    }
    Ok(())
}

/// Every scenario file in a folder, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| Scenario::load(p)).collect()
}

impl Scenario {
    /// This scenario at Kafka `v`: that release's rules and defaults for
    /// every release-dependent setting the file does not name.
    pub fn at_release(&self, v: KafkaVersion) -> Result<ModelConfig, String> {
        let mut c = self.config.clone();
        c.apply_release(v, self.named)?;
        c.validate()?;
        Ok(c)
    }

    /// A scenario built from flags alone.
    pub fn from_config(config: ModelConfig) -> Scenario {
        Scenario {
            path: None,
            name: "flags".into(),
            why: String::new(),
            config,
            expect: Expect::default(),
            named: Named::default(),
            walks: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::types::Acks;

    #[test]
    fn bad_input_is_named() {
        let e = Scenario::parse("why = \"x\"\n[kafka]\nacks = \"2\"\n").unwrap_err();
        assert!(e.contains("acks"), "{e}");
        let e = Scenario::parse("why = \"x\"\n[kafka]\n\"min.insync.replicas\" = 0\n").unwrap_err();
        assert!(e.contains("min.insync.replicas: must be at least 1"), "{e}");
        let e = Scenario::parse("why = \"x\"\n[kafka]\nakcs = 1\n").unwrap_err();
        assert!(e.contains("unknown field `akcs`"), "{e}");
        let e = Scenario::parse("why = \"x\"\n[model]\nrecords = \"two\"\n").unwrap_err();
        assert!(e.contains("records"), "{e}");
        let e =
            Scenario::parse("why = \"x\"\n[expect]\nacked_never_lots = \"holds\"\n").unwrap_err();
        assert!(e.contains("acked_never_lots"), "{e}");
        let e =
            Scenario::parse("why = \"x\"\n[expect]\nacked_never_lost = \"maybe\"\n").unwrap_err();
        assert!(e.contains("maybe"), "{e}");
        let e =
            Scenario::parse("why = \"x\"\n[expect]\nacked_never_lost = \"unknown\"\n").unwrap_err();
        assert!(e.contains("not \"unknown\""), "{e}");
    }

    #[test]
    fn a_scenario_checked_by_walks_expects_only_what_walks_can_show() {
        let walks = "why = \"x\"\n[check]\nwalks = 100\n[expect]\n";
        let s = Scenario::parse(&format!(
            "{walks}acked_never_lost = \"violated\"\nreplicas_agree = \"unknown\"\nsometimes_crash = \"holds\"\n"
        ))
        .unwrap();
        assert_eq!(s.walks, Some(100));
        let e = Scenario::parse(&format!("{walks}replicas_agree = \"holds\"\n")).unwrap_err();
        assert!(
            e.contains("never show that an always property holds"),
            "{e}"
        );
        let e = Scenario::parse(&format!("{walks}sometimes_crash = \"violated\"\n")).unwrap_err();
        assert!(e.contains("never show that a state is unreachable"), "{e}");
        let e = Scenario::parse("why = \"x\"\n[check]\nwalks = 0\n").unwrap_err();
        assert!(e.contains("[check] walks: at least 1"), "{e}");
        let e = Scenario::parse(
            "why = \"x\"\n[check]\nwalks = 5\n[model]\nnetwork = \"unordered_duplicating\"\n",
        )
        .unwrap_err();
        assert!(e.contains("ordered network only"), "{e}");
        let e = Scenario::parse("why = \"x\"\n[check]\nseconds = 5\n").unwrap_err();
        assert!(e.contains("unknown field `seconds`"), "{e}");
    }

    #[test]
    fn acks_minus_one_means_all() {
        let s = Scenario::parse("why = \"x\"\n[kafka]\nacks = -1\n").unwrap();
        assert_eq!(s.config.kafka.acks, Acks::All);
        let s = Scenario::parse("why = \"x\"\n[kafka]\nacks = \"-1\"\n").unwrap();
        assert_eq!(s.config.kafka.acks, Acks::All);
        let s = Scenario::parse("why = \"x\"\n[kafka]\nacks = 0\n").unwrap();
        assert_eq!(s.config.kafka.acks, Acks::Zero);
    }
}
