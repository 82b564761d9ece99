//! Shortening a counterexample a random walk, or the search with clients
//! first, found.
//!
//! A walk wanders: its path to a violation carries steps the violation
//! does not need (a fetch that changed nothing, a heartbeat). The search
//! with clients first (`model::client_first`) can end a path with client
//! deliveries it took early, which the violation did not need either. Each pass
//! drops one step and replays the rest, also dropping every later step
//! the removal disabled (a response whose request is gone); whatever still
//! ends in a violation, and is shorter, is kept. This is delta debugging
//! with steps of one: it cannot promise the shortest path, which only an
//! exhaustive search can, but it strips most of a walk's detours.

use super::trace::Trace;
use crate::model::state::{KafkaModel, KafkaState};
use stateright::Model;

type Action = <KafkaModel as Model>::Action;

/// `t` with every step it can do without, still violating `property`.
pub fn shorten(model: &KafkaModel, t: Trace, property: &str) -> Trace {
    let Some(p) = model.properties().into_iter().find(|p| p.name == property) else {
        return t;
    };
    let violated = |s: &KafkaState| !(p.condition)(model, s);
    let mut best = t;
    'passes: loop {
        for skip in 0..best.actions.len() {
            if let Some(indices) = replay_without(model, &best, skip, &violated)
                && indices.len() < best.len()
                && let Some(shorter) = Trace::replay(model, best.init_index, indices)
            {
                best = shorter;
                continue 'passes;
            }
        }
        return best;
    }
}

/// The action indices of `t` without step `skip` and the steps that no
/// longer apply, up to the first violating state; `None` if none violates.
fn replay_without(
    model: &KafkaModel,
    t: &Trace,
    skip: usize,
    violated: &impl Fn(&KafkaState) -> bool,
) -> Option<Vec<usize>> {
    let mut state = model.init_states().into_iter().nth(t.init_index)?;
    let mut indices = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    for (i, a) in t.actions.iter().enumerate() {
        if i == skip {
            continue;
        }
        actions.clear();
        model.actions(&state, &mut actions);
        let Some(at) = actions.iter().position(|x| x == a) else {
            continue;
        };
        let Some(next) = model.next_state(&state, a.clone()) else {
            continue;
        };
        if !Model::within_boundary(model, &next) {
            continue;
        }
        indices.push(at);
        state = next;
        if violated(&state) {
            return Some(indices);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOptions, run};
    use crate::model::properties::ACKED_NEVER_LOST;
    use crate::scenario::Scenario;

    /// A real counterexample with detours added in front (every first
    /// step the model offers, then the same actions) loses them again.
    #[test]
    fn a_padded_counterexample_loses_its_padding() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/seed-acks1-isr1-process.toml"
        );
        let s = Scenario::load(std::path::Path::new(path)).unwrap();
        let report = run(&s.config, &s.expect, &CheckOptions::default());
        let c = report.property(ACKED_NEVER_LOST).unwrap();
        let explorer = &c.counterexample.as_ref().unwrap().explorer_path;
        let indices: Vec<usize> = explorer
            .split('/')
            .skip(1)
            .map(|i| i.parse().unwrap())
            .collect();
        let model = s.config.into_model();
        let shortest = Trace::replay(&model, 0, indices).unwrap();
        assert_eq!(shortest.len(), 10);
        let violated = |st: &KafkaState| {
            model
                .properties()
                .into_iter()
                .any(|p| p.name == ACKED_NEVER_LOST && !(p.condition)(&model, st))
        };
        // The same actions after two detours: `replay_without` with
        // nothing to skip replays a trace's actions by equality.
        let mut padded = 0;
        let mut first = Vec::new();
        model.actions(&model.init_states()[0], &mut first);
        for a in first {
            let Some(s1) = model.next_state(&model.init_states()[0], a.clone()) else {
                continue;
            };
            let mut second = Vec::new();
            model.actions(&s1, &mut second);
            for b in second {
                let mut t = shortest.clone();
                t.actions.insert(0, b.clone());
                t.actions.insert(0, a.clone());
                let Some(ix) = replay_without(&model, &t, usize::MAX, &violated) else {
                    continue;
                };
                if ix.len() <= shortest.len() {
                    continue;
                }
                let long = Trace::replay(&model, 0, ix).unwrap();
                let short = shorten(&model, long.clone(), ACKED_NEVER_LOST);
                assert!(short.len() < long.len(), "{} steps kept", long.len());
                assert!(short.len() >= 10, "shorter than the shortest");
                assert!(violated(short.states.last().unwrap()));
                padded += 1;
            }
        }
        assert!(padded > 0, "no detour kept the violation");
    }
}
