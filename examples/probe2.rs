use insync::model::ModelConfig;
use stateright::{Checker, Model};
fn main() {
    let mut cfg = ModelConfig::default();
    cfg.acks = "0".parse().unwrap();
    cfg.crash_mode = "process".parse().unwrap();
    cfg.lag_removals = 0; cfg.records = 1; cfg.min_insync_replicas = 1;
    let model = cfg.into_model();
    let c = if std::env::var("BFS").is_ok() { Box::new(model.checker().spawn_bfs()) as Box<dyn Checker<_>> } else { Box::new(model.checker().spawn_dfs()) };
    for _ in 0..8 {
        std::thread::sleep(std::time::Duration::from_secs(1));
        println!("states={} unique={} depth={} done={}", c.state_count(), c.unique_state_count(), c.max_depth(), c.is_done());
    }
}
