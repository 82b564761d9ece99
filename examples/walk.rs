use insync::model::ModelConfig;
use stateright::Model;
fn main() {
    let mut cfg = ModelConfig::default();
    cfg.acks = "0".parse().unwrap();
    cfg.crash_mode = "process".parse().unwrap();
    cfg.lag_removals = 0; cfg.retries = 1;
    let model = cfg.into_model();
    let mut s = model.init_states().remove(0);
    let mut seed: u64 = std::env::args().nth(1).map(|a| a.parse().unwrap()).unwrap_or(12345);
    for step in 0..3000 {
        let mut acts = Vec::new();
        model.actions(&s, &mut acts);
        let mut nexts: Vec<_> = acts.into_iter().filter_map(|a| { let n = model.next_state(&s, a.clone())?; if stateright::Model::within_boundary(&model, &n) { Some((a, n)) } else { None } }).collect();
        if nexts.is_empty() { println!("deadlock at {step}"); break; }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let i = (seed >> 33) as usize % nexts.len();
        let (a, n) = nexts.swap_remove(i);
        if step > 2970 { println!("{step}: {}", model.format_action(&a)); }
        s = n;
    }
    println!("{:#?}", s.actor_states);
    println!("network len {}", s.network.len());
}
