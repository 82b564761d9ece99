use insync::model::ModelConfig;
use stateright::{Checker, Model};
use std::time::Instant;
fn main() {
    let mut cfg = ModelConfig::default();
    let args: Vec<String> = std::env::args().collect();
    if args.len() > 1 { cfg.acks = args[1].parse().unwrap(); }
    if args.len() > 2 { cfg.min_insync_replicas = args[2].parse().unwrap(); }
    if args.len() > 3 { cfg.crash_mode = args[3].parse().unwrap(); }
    if args.len() > 4 { cfg.lag_removals = args[4].parse().unwrap(); }
    if args.len() > 5 { cfg.crashes = args[5].parse().unwrap(); }
    if args.len() > 6 { cfg.records = args[6].parse().unwrap(); }
    if args.len() > 7 { cfg.retries = args[7].parse().unwrap(); }
    let t = Instant::now();
    let model = cfg.into_model();
    let c = if std::env::var("NOSYM").is_ok() { model.checker().spawn_dfs().join() } else { model.checker().symmetry_fn(insync::model::symmetry::representative).spawn_dfs().join() };
    println!("states={} unique={} depth={} secs={:.2}", c.state_count(), c.unique_state_count(), c.max_depth(), t.elapsed().as_secs_f64());
    for p in c.model().properties() {
        println!("{:?} {} -> {}", p.expectation, p.name, c.discovery(p.name).map(|d| format!("discovery len {}", d.into_actions().len())).unwrap_or("none".into()));
    }
}
