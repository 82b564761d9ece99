use insync::model::ModelConfig;
use insync::model::symmetry::representative;
use stateright::Model;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
fn main() {
    let mut cfg = ModelConfig::default();
    cfg.acks = std::env::args().nth(1).unwrap().parse().unwrap();
    cfg.crash_mode = "process".parse().unwrap();
    cfg.lag_removals = 0; cfg.records = 1; cfg.min_insync_replicas = 1;
    let model = cfg.into_model();
    let mut seen = HashSet::new();
    let mut frontier = model.init_states();
    for d in 0..60 {
        let mut next = Vec::new();
        for s in &frontier {
            let mut acts = Vec::new();
            model.actions(s, &mut acts);
            for a in acts {
                if let Some(n) = model.next_state(s, a) {
                    if !stateright::Model::within_boundary(&model, &n) { continue; }
                    let r = representative(&n);
                    let mut h = std::collections::hash_map::DefaultHasher::new(); r.hash(&mut h);
                    if seen.insert(h.finish()) { next.push(n); }
                }
            }
        }
        println!("depth {d}: {} new", next.len());
        if next.is_empty() { break; }
        if d == 40 { println!("{:#?}", next[0].actor_states); }
        frontier = next;
    }
}
