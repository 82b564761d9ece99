//! The faults a torture run injects, on a schedule drawn from its seed:
//! one fault at a time, held for a while, then healed.

use super::cluster::Cluster;
use crate::server::storage::lose_unflushed;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL a broker, restart it when healed.
    Kill,
    /// SIGSTOP a broker, SIGCONT it when healed.
    Pause,
    /// Cut a broker off from clients, peers and the controller, both ways.
    Partition,
    /// Cut a broker off from the controller and its peers, both ways,
    /// while its clients still reach it, for longer than its session: the
    /// controller fences it and elects another leader while it may still
    /// take writes (a zombie leader; the model's network partition).
    Split,
    /// SIGTERM a broker (a controlled shutdown: its leaderships move
    /// first), wait for it to exit, restart it when healed: one step of a
    /// rolling restart.
    Shutdown,
    /// Move leadership with no failure to another live ISR member (the
    /// model's preferred-leader election), asked of the controller.
    Rebalance,
    /// SIGKILL a broker and drop what it had not fsynced.
    Power,
    /// Pause the followers' fetching (the fault hook), then SIGKILL the
    /// leader: what it alone acknowledged is gone once they take over.
    StaleKill,
    /// Pause the followers' fetching until `replica.lag.time.max.ms` drops
    /// them from the ISR, then cut the leader's power: what it alone held,
    /// unflushed, is gone, though acks=all acknowledged it.
    StalePower,
    /// SIGKILL the controller while the brokers run, restart it on its
    /// metadata log: no decision it made may be undone.
    ControllerKill,
    /// SIGKILL every broker and the controller, start them all again on
    /// their folders.
    RestartAll,
}

impl Fault {
    pub const ALL: [(&'static str, Fault); 11] = [
        ("kill", Fault::Kill),
        ("pause", Fault::Pause),
        ("partition", Fault::Partition),
        ("split", Fault::Split),
        ("shutdown", Fault::Shutdown),
        ("rebalance", Fault::Rebalance),
        ("power", Fault::Power),
        ("stale-kill", Fault::StaleKill),
        ("stale-power", Fault::StalePower),
        ("controller-kill", Fault::ControllerKill),
        ("restart-all", Fault::RestartAll),
    ];

    pub fn name(self) -> &'static str {
        Fault::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// Whom a scripted fault strikes: roles, since broker ids differ between
/// a model's walk and a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Leader,
    Follower,
}

/// Parses `--nemesis kill,pause,...` (an empty list injects nothing).
pub fn parse(list: &str) -> Result<Vec<Fault>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "none")
        .map(|name| {
            Fault::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    let known: Vec<&str> = Fault::ALL.iter().map(|(n, _)| *n).collect();
                    format!(
                        "--nemesis: unknown fault {name:?} (known: {})",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

/// SplitMix64: the schedule needs reproducible choices, not a crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// Injects `fault` on `target` (the partition's leader when known),
/// holds it for `hold`, and heals it. Answers the log lines to keep.
/// `leader` is the leader of `partition` 0 of `topic` as last seen.
pub async fn strike(
    cluster: &mut Cluster,
    fault: Fault,
    target: usize,
    (topic, leader): (&str, Option<usize>),
    brokers: usize,
    hold: Duration,
) -> Result<Vec<Value>, String> {
    let others: Vec<usize> = (0..brokers).filter(|b| *b != target).collect();
    let mut notes = Vec::new();
    match fault {
        Fault::Kill => {
            cluster.kill(target).await;
            tokio::time::sleep(hold).await;
            cluster.start_broker(target).await?;
        }
        Fault::Pause => {
            cluster.pause(target, true)?;
            tokio::time::sleep(hold).await;
            cluster.pause(target, false)?;
        }
        Fault::Partition => {
            cluster.isolate(target, true);
            tokio::time::sleep(hold).await;
            cluster.isolate(target, false);
        }
        Fault::Split => {
            cluster.split(target, true);
            tokio::time::sleep(cluster.session_timeout() + hold).await;
            cluster.split(target, false);
        }
        Fault::Shutdown => {
            let exit = cluster.terminate(target).await?;
            notes.push(json!({ "exit": exit }));
            tokio::time::sleep(hold).await;
            cluster.start_broker(target).await?;
        }
        Fault::Rebalance => {
            // Aimed at the leader, it goes to whichever member the
            // controller picks; aimed at a follower, to that follower.
            let to = (Some(target) != leader).then_some(target);
            match cluster.move_leader(topic, 0, to).await? {
                Ok(b) => notes.push(json!({ "leader": b })),
                Err(why) => notes.push(json!({ "refused": why })),
            }
            // Nothing to heal: the next fault may come as soon as the
            // schedule's quiet spell is over.
            let _ = hold;
        }
        Fault::Power => {
            cluster.kill(target).await;
            let cut = lose_unflushed(&cluster.data_dir(target))
                .map_err(|e| format!("power loss on broker {target}: {e}"))?;
            notes.extend(cut.into_iter().map(|c| json!(c)));
            tokio::time::sleep(hold).await;
            cluster.start_broker(target).await?;
        }
        Fault::ControllerKill => {
            cluster.kill_controller().await;
            tokio::time::sleep(hold).await;
            cluster.start_controller().await?;
        }
        Fault::RestartAll => {
            for b in 0..brokers {
                cluster.kill(b).await;
            }
            cluster.kill_controller().await;
            tokio::time::sleep(hold).await;
            cluster.start_controller().await?;
            for b in 0..brokers {
                cluster.start_broker(b).await?;
            }
        }
        Fault::StaleKill | Fault::StalePower => {
            for &o in &others {
                cluster.toggle_fetching(o)?;
            }
            let wait = match fault {
                Fault::StalePower => cluster.replica_lag() + Duration::from_secs(1) + hold,
                _ => hold,
            };
            tokio::time::sleep(wait).await;
            cluster.kill(target).await;
            if fault == Fault::StalePower {
                let cut = lose_unflushed(&cluster.data_dir(target))
                    .map_err(|e| format!("power loss on broker {target}: {e}"))?;
                notes.extend(cut.into_iter().map(|c| json!(c)));
            }
            for &o in &others {
                cluster.toggle_fetching(o)?;
            }
            // Long enough for the controller to fence the dead leader and
            // elect a follower that never saw its last records.
            tokio::time::sleep(cluster.session_timeout() + Duration::from_secs(1)).await;
            cluster.start_broker(target).await?;
        }
    }
    Ok(notes)
}
