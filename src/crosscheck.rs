//! `insync crosscheck SCENARIO`: the model and the running cluster, held to
//! the same verdicts. Random walks of the scenario's model (seeded) are
//! turned into fault schedules: each broker crash in a walk becomes the
//! same fault on the cluster, by role (a leader crashed while its
//! followers lacked its last records becomes `stale-kill`; a power-loss
//! crash becomes `power`); a controlled shutdown becomes `shutdown`, a
//! preferred-leader election `rebalance` (to a follower), and a network
//! partition around a broker `split` (cut from the controller and its
//! peers, its clients still reaching it; it heals on its own). Each
//! schedule drives a torture run with the scenario's acks,
//! min.insync.replicas, unclean and flush settings.
//!
//! A walk's verdict is whether `acked_never_lost` failed on it; a run's is
//! whether an acknowledged record is missing from the final read. A run
//! replays its walk's faults, not every step, so a run may lose where its
//! walk did not (another interleaving the model also loses on) or keep
//! what its walk lost (not reproduced). What can never be excused is a run
//! losing a record in a scenario where the exhaustive check says no
//! interleaving does, or a traced step the specification does not allow.

use crate::check::story::{Action, step_events};
use crate::check::trace::Trace;
use crate::core::config::Truncation;
use crate::core::effects::{ElectionKind, Event};
use crate::core::messages::Node;
use crate::core::release::{NEWEST, Rule};
use crate::core::types::Acks;
use crate::model::actor::Timer;
use crate::model::properties::{ACKED_NEVER_LOST, always_properties};
use crate::model::state::{KafkaModel, KafkaState, View};
use crate::model::{CrashMode, NetworkKind};
use crate::scenario::{Scenario, Verdict};
use crate::torture::nemesis::{Fault, Rng, Role};
use crate::torture::{TortureConfig, run};
use serde_json::{Value, json};
use stateright::Model;
use stateright::actor::ActorModelAction;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One random walk of the model.
pub struct Walk {
    pub steps: usize,
    pub faults: Vec<(Fault, Role)>,
    /// `acked_never_lost` failed in some state of the walk.
    pub lost: bool,
}

/// Whether `broker` leads in `state`: as it believes, or as the controller
/// elected it before it heard (the run aims at the leader clients see).
fn role(state: &KafkaState, broker: u8) -> Role {
    let v = View::of(state);
    if v.broker(broker).replica.is_leader() || v.controller.core.state.leader == Some(broker) {
        Role::Leader
    } else {
        Role::Follower
    }
}

/// What a crash in the walk is, as a fault on the cluster.
fn as_fault(state: &KafkaState, broker: u8, power_loss: bool) -> (Fault, Role) {
    let v = View::of(state);
    let me = &v.broker(broker).replica;
    let role = role(state, broker);
    let others = v
        .brokers
        .iter()
        .filter(|b| b.replica.id != broker && !b.down)
        .map(|b| b.replica.log.end_offset())
        .max()
        .unwrap_or(0);
    let stale = me.is_leader() && me.log.end_offset() > others;
    // Lag removals before the crash: the followers left the ISR for
    // lagging, and the leader acknowledged alone.
    let lagged = v.controller.lag_removals > 0;
    let fault = match (power_loss, stale, lagged && me.is_leader()) {
        (true, _, true) => Fault::StalePower,
        // The followers lack the leader's last records: whether it then
        // loses power or only its process, they are gone with it.
        (_, true, _) => Fault::StaleKill,
        (true, false, false) => Fault::Power,
        (false, false, _) => Fault::Kill,
    };
    (fault, role)
}

/// The faults of a path of the model and whether it lost an acked record.
fn path_walk(model: &KafkaModel, states: &[KafkaState], actions: &[Action]) -> Walk {
    let (_, acked_kept) = always_properties::<KafkaState>()
        .into_iter()
        .find(|(n, _)| *n == ACKED_NEVER_LOST)
        .expect("a property of every model");
    let mut out = Walk {
        steps: actions.len(),
        faults: Vec::new(),
        lost: states
            .iter()
            .any(|s| !acked_kept(&model.cfg, s, &View::of(s))),
    };
    for (state, action) in states.iter().zip(actions) {
        // The cut itself is no protocol decision (no event): the step is.
        if let ActorModelAction::Timeout(id, Timer::Isolate) = action
            && let Node::Broker(b) = model.actors[usize::from(*id)].settings.layout.node(*id)
        {
            out.faults.push((Fault::Split, role(state, b)));
        }
        for e in step_events(model, state, action) {
            match e {
                Event::Crashed {
                    broker, power_loss, ..
                } => out.faults.push(as_fault(state, broker, power_loss)),
                Event::ShutdownRequested { broker } => {
                    out.faults.push((Fault::Shutdown, role(state, broker)));
                }
                // Leadership moves to a follower: the run's `rebalance`
                // aimed at a follower moves it to that follower.
                Event::LeaderElected {
                    kind: ElectionKind::Preferred,
                    ..
                } => out.faults.push((Fault::Rebalance, Role::Follower)),
                _ => {}
            }
        }
    }
    out
}

/// Walks at most `max_steps` random steps from an initial state.
pub fn walk(model: &KafkaModel, rng: &mut Rng, max_steps: usize) -> Walk {
    let inits = model.init_states();
    let mut states = vec![inits[rng.between(0, inits.len() as u64) as usize].clone()];
    let mut taken = Vec::new();
    let mut actions = Vec::new();
    for _ in 0..max_steps {
        let state = states.last().expect("one at least");
        actions.clear();
        model.actions(state, &mut actions);
        let mut next = None;
        while !actions.is_empty() && next.is_none() {
            let a = actions.swap_remove(rng.between(0, actions.len() as u64) as usize);
            next = model
                .next_state(state, a.clone())
                .filter(|n| model.within_boundary(n))
                .map(|n| (a, n));
        }
        let Some((action, after)) = next else {
            break;
        };
        taken.push(action);
        states.push(after);
    }
    path_walk(model, &states, &taken)
}

/// The exhaustive check's word on the scenario: whether any interleaving
/// loses an acknowledged record, and the shortest one that does (the walk
/// most worth reproducing).
fn model_verdict(sc: &Scenario, model: &KafkaModel) -> (bool, Option<Walk>) {
    let opts = crate::check::CheckOptions {
        progress: false,
        ..Default::default()
    };
    let report = crate::check::run(&sc.config, &sc.expect, &opts);
    let Some(p) = report.property(ACKED_NEVER_LOST) else {
        return (false, None);
    };
    let can_lose = p.verdict == Verdict::Violated;
    let walk = p.counterexample.as_ref().and_then(|cx| {
        let mut parts = cx.explorer_path.split('/').map(|p| p.parse::<usize>().ok());
        let init = parts.next()??;
        let indices: Option<Vec<usize>> = parts.collect();
        let t = Trace::replay(model, init, indices?)?;
        Some(path_walk(model, &t.states, &t.actions))
    });
    (can_lose, walk)
}

/// A walk's verdict against its run's.
fn judge(
    walk_lost: bool,
    cluster_lost: bool,
    model_can_lose: bool,
    conforms: bool,
) -> &'static str {
    match (walk_lost, cluster_lost) {
        _ if !conforms => "disagree: a traced step the specification does not allow",
        (_, true) if !model_can_lose => {
            "disagree: the cluster lost an acknowledged record the model never loses"
        }
        (a, b) if a == b => "agree",
        // The run replays the walk's faults, not its every step: another
        // interleaving the model also has lost the record.
        (false, true) => "agree elsewhere: lost on an interleaving the model also loses on",
        (true, false) => "not reproduced",
        _ => unreachable!("every pair is covered"),
    }
}

pub struct CrossConfig {
    pub scenario: PathBuf,
    pub walks: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub ops: u64,
    pub max_steps: usize,
    /// Also run the checker's counterexample for `acked_never_lost`.
    pub counterexample: bool,
    pub quiet: bool,
}

/// Every walk with its run; `Ok((rows, all_agree))`.
pub fn crosscheck(c: &CrossConfig, exe: &Path) -> Result<(Value, bool), String> {
    let mut sc = Scenario::load(&c.scenario)?;
    // The brokers run the newest release's HW rule (3.7: the HW stays put
    // while |ISR| < min.insync.replicas); the model is held to the same.
    sc.config.strict_min_isr = NEWEST.has(Rule::StrictMinIsr);
    sc.expect = Default::default();
    let cfg = sc.config.clone();
    if cfg.kafka.replication_factor != 3 {
        return Err(format!(
            "{}: the cluster runs RF=3, the scenario has {}",
            c.scenario.display(),
            cfg.kafka.replication_factor
        ));
    }
    // The brokers run Kafka's current rules: a scenario about another rule
    // has nothing to run against.
    let unsupported = [
        (cfg.truncation != Truncation::LeaderEpoch, "HW truncation"),
        (cfg.network != NetworkKind::Ordered, "an unordered network"),
        (cfg.mutation.is_some(), "a protocol mutation"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(on, _)| *on) {
        return Err(format!(
            "{}: the cluster does not run {what}, so it cannot be held to this scenario's verdicts",
            c.scenario.display()
        ));
    }
    if cfg.kafka.acks == Acks::Zero {
        return Err(format!(
            "{}: acks=0 has no acknowledgement a client sees, so a run cannot show \
             whether an acknowledged record was lost; cross-check acks=1 or all",
            c.scenario.display()
        ));
    }
    let model = cfg.clone().into_model();
    let mut rng = Rng::new(c.seed);
    let (model_can_lose, cx) = model_verdict(&sc, &model);
    let mut walks: Vec<(&str, Walk)> = Vec::new();
    if c.counterexample
        && let Some(cx) = cx
    {
        walks.push(("counterexample", cx));
    }
    for _ in 0..c.walks {
        walks.push(("random", walk(&model, &mut rng, c.max_steps)));
    }
    let mut rows = Vec::new();
    let mut all_agree = true;
    for (w, (kind, walk)) in walks.into_iter().enumerate() {
        let t = TortureConfig {
            kafka: cfg.kafka.clone(),
            nemesis: Vec::new(),
            schedule: walk.faults.clone(),
            ops: c.ops,
            clients: 4,
            rate: 100.0,
            seed: c.seed.wrapping_add(w as u64),
            out: c.out.join(format!("walk-{w}")),
            time_limit: Duration::from_secs(60),
            quiet: c.quiet,
        };
        let outcome = run(&t, exe.to_path_buf())?;
        let missing = outcome.summary["acked_missing_at_end"]
            .as_u64()
            .unwrap_or(0);
        let cluster_lost = missing > 0;
        let verdict = judge(
            walk.lost,
            cluster_lost,
            model_can_lose,
            outcome.violation.is_none(),
        );
        all_agree &= !verdict.starts_with("disagree");
        rows.push(json!({
            "walk": w,
            "kind": kind,
            "steps": walk.steps,
            "faults": walk.faults.iter().map(|(f, r)| json!({"fault": f.name(), "role": r})).collect::<Vec<_>>(),
            "model": if walk.lost { "acked record lost" } else { "acked records kept" },
            "cluster": if cluster_lost { format!("{missing} acknowledged records lost") } else { "acked records kept".to_string() },
            "traces_conform": outcome.violation.is_none(),
            "verdict": verdict,
            "agree": verdict == "agree",
            "run": t.out,
        }));
    }
    let crash = match cfg.crash_mode {
        CrashMode::Process => "process",
        CrashMode::Machine => "machine",
    };
    Ok((
        json!({
            "scenario": c.scenario,
            "crash": crash,
            "seed": c.seed,
            "model_can_lose_acked": model_can_lose,
            "walks": rows,
            "agree": all_agree,
        }),
        all_agree,
    ))
}
