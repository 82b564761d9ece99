//! `insync torture`: a 3-broker cluster of real processes, insync's own
//! producers and consumers, faults on a seeded schedule, then everything
//! healed, the whole log read back, and the history checked (Jepsen's
//! Kafka anomalies and linearizability).
//!
//! A run leaves in its folder: `history.jsonl` (the operations),
//! `nemesis.jsonl` (the faults, on the history's clock), `report.json`,
//! `report.html`, and the brokers' `data/`, `traces/` and `logs/`.

pub mod cluster;
pub mod nemesis;
pub mod proxy;
pub mod workload;

use crate::core::settings::KafkaSettings;
use crate::lincheck::history;
use crate::lincheck::report::Report;
use cluster::{BrokerFlags, Cluster};
use nemesis::{Fault, Rng};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The cluster's brokers, and so every topic's replication factor.
pub const BROKERS: usize = 3;
const TOPIC: &str = "torture";

#[derive(Clone, Debug)]
pub struct TortureConfig {
    /// acks, min.insync.replicas, unclean.leader.election.enable and
    /// log.flush.interval.messages; the replication factor is the
    /// cluster's, [`BROKERS`].
    pub kafka: KafkaSettings,
    pub nemesis: Vec<Fault>,
    /// Faults to inject in this order instead of drawing them from the
    /// seed (a model walk's, for `insync crosscheck`); then no more.
    pub schedule: Vec<(Fault, nemesis::Role)>,
    /// Appends in all.
    pub ops: u64,
    /// Producers and consumers (at least one of each).
    pub clients: usize,
    /// Appends per second, all producers together.
    pub rate: f64,
    pub seed: u64,
    pub out: PathBuf,
    /// The workload and faults stop after this long even if appends are left.
    pub time_limit: Duration,
    pub quiet: bool,
}

/// What a run found.
pub struct Outcome {
    pub report: Report,
    /// The first traced step the specification does not allow, if any.
    pub violation: Option<crate::conform::Violation>,
    pub summary: Value,
}

impl Outcome {
    /// No anomaly, linearizable, and every traced step allowed.
    pub fn passed(&self) -> bool {
        self.report.valid() && self.violation.is_none()
    }
}

/// Clears what an earlier run left in `out`, and nothing else.
fn prepare(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for sub in ["data", "traces", "logs"] {
        let p = out.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// What the files under `dir` take, in bytes.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn write_lines(path: &Path, lines: &[Value]) -> Result<(), String> {
    let mut text = String::new();
    for l in lines {
        text.push_str(&l.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(cfg: &TortureConfig, exe: PathBuf) -> Result<Outcome, String> {
    if usize::from(cfg.kafka.replication_factor) != BROKERS {
        return Err(format!(
            "the cluster runs replication.factor {BROKERS}, not {}",
            cfg.kafka.replication_factor
        ));
    }
    cfg.kafka.validate().map_err(|e| e.to_string())?;
    if cfg.clients == 0 {
        return Err("--clients 0: give at least 1".into());
    }
    prepare(&cfg.out)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(run_async(cfg, exe))
}

async fn run_async(cfg: &TortureConfig, exe: PathBuf) -> Result<Outcome, String> {
    let flags = BrokerFlags {
        brokers: BROKERS,
        kafka: cfg.kafka.clone(),
        session_timeout_ms: 2000,
        replica_lag_ms: 5000,
        fetch_wait_ms: 200,
    };
    let mut cluster = Cluster::start(exe, &cfg.out, flags).await?;
    let shared = Arc::new(workload::Shared {
        start: Instant::now(),
        topic: TOPIC.to_string(),
        acks: cfg.kafka.acks.wire(),
        bootstrap: cluster.bootstrap(),
        history: Mutex::new(Vec::new()),
        budget: AtomicU64::new(cfg.ops),
        stop: AtomicBool::new(false),
        next_process: AtomicU64::new(0),
        pace: Duration::from_secs_f64(producers(cfg) as f64 / cfg.rate.max(0.001)),
    });
    let result = drive(cfg, &mut cluster, &shared).await;
    let peak_rss_kb = cluster.stop().await;
    let seconds = shared.start.elapsed().as_secs_f64();
    let disk_bytes = dir_bytes(&cfg.out.join("data"));
    let (faults, (reader, survivors)) = result?;

    let mut ops = std::mem::take(&mut *shared.history.lock().unwrap_or_else(|p| p.into_inner()));
    ops.sort_by_key(|o| o["invoke_ns"].as_u64());
    let history_path = cfg.out.join("history.jsonl");
    write_lines(&history_path, &ops)?;
    let nemesis_path = cfg.out.join("nemesis.jsonl");
    write_lines(&nemesis_path, &faults)?;
    // Read back through the checker's own parser: what is checked is
    // exactly what the file says.
    let text = std::fs::read_to_string(&history_path).map_err(|e| e.to_string())?;
    let parsed = history::parse(&text).map_err(|e| format!("{}: {e}", history_path.display()))?;
    let report = Report::check(&parsed, Duration::from_secs(30));
    let nemesis = std::fs::read_to_string(&nemesis_path).map_err(|e| e.to_string())?;
    let spans = crate::lincheck::plots::parse_nemesis(&nemesis)
        .map_err(|e| format!("{}: {e}", nemesis_path.display()))?;
    let html = cfg.out.join("report.html");
    let title = format!(
        "insync torture: acks={} min.isr={} nemesis={} seed={}",
        cfg.kafka.acks,
        cfg.kafka.min_insync_replicas,
        cfg.nemesis
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        cfg.seed
    );
    std::fs::write(
        &html,
        crate::lincheck::html::render(&title, &parsed, &report, &spans),
    )
    .map_err(|e| format!("{}: {e}", html.display()))?;
    let steps = crate::conform::load(&cfg.out.join("traces")).map_err(|e| e.to_string())?;
    let conform = crate::conform::check(&steps);
    let count = |f: &str, t: &str| ops.iter().filter(|o| o["f"] == f && o["type"] == t).count();
    let summary = json!({
        "out": cfg.out,
        "html_report": html,
        "seed": cfg.seed,
        "acks": cfg.kafka.acks.to_string(),
        "min_isr": cfg.kafka.min_insync_replicas,
        "unclean": cfg.kafka.unclean_leader_election_enable,
        "nemesis": cfg.nemesis.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "appends": {"ok": count("append", "ok"), "fail": count("append", "fail"), "info": count("append", "info")},
        "polls": count("poll", "ok"),
        "faults": faults.len(),
        "seconds": seconds,
        "peak_rss_kb": peak_rss_kb,
        "disk_bytes": disk_bytes,
        "records_read_back": survivors,
        "acked_missing_at_end": acked_missing(&ops, reader),
        "report": report.to_json(),
        "trace": {"steps": steps.len(), "conforms": conform.violation.is_none(), "violation": conform.violation},
    });
    std::fs::write(
        cfg.out.join("report.json"),
        serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    Ok(Outcome {
        report,
        violation: conform.violation,
        summary,
    })
}

/// The workload under faults, then healing and the final read. Answers
/// the fault log and how many records the final read saw.
async fn drive(
    cfg: &TortureConfig,
    cluster: &mut Cluster,
    s: &Arc<workload::Shared>,
) -> Result<(Vec<Value>, (u64, usize)), String> {
    let started = Instant::now();
    // The first metadata request creates the topic; wait for its leader.
    wait_for(s, Duration::from_secs(30), |l| l.id >= 0).await?;
    let consumers = (cfg.clients / 2).max(1);
    let mut producing = Vec::new();
    for _ in 0..producers(cfg) {
        producing.push(tokio::spawn(workload::producer(s.clone())));
    }
    let mut consuming = Vec::new();
    for _ in 0..consumers {
        consuming.push(tokio::spawn(workload::consumer(s.clone())));
    }
    let bar = progress(cfg);
    let mut rng = Rng::new(cfg.seed);
    let mut faults = Vec::new();
    let done = |p: &[tokio::task::JoinHandle<()>]| p.iter().all(|h| h.is_finished());
    while !done(&producing) && started.elapsed() < cfg.time_limit {
        let quiet = Duration::from_millis(rng.between(300, 1000));
        tokio::time::sleep(quiet).await;
        bar.set_position(cfg.ops - s.budget.load(Ordering::SeqCst));
        let scripted = !cfg.schedule.is_empty();
        if done(&producing) || (!scripted && cfg.nemesis.is_empty()) {
            continue;
        }
        let leader = workload::leader(s).await.map(|l| l.id).filter(|l| *l >= 0);
        let (fault, target) = if scripted {
            let Some(&(fault, role)) = cfg.schedule.get(faults.len()) else {
                continue;
            };
            let follower = |rng: &mut Rng| {
                let others: Vec<usize> =
                    (0..BROKERS).filter(|b| Some(*b as i32) != leader).collect();
                others[rng.between(0, others.len() as u64) as usize]
            };
            match (role, leader) {
                (nemesis::Role::Leader, Some(l)) => (fault, l as usize),
                _ => (fault, follower(&mut rng)),
            }
        } else {
            let fault = cfg.nemesis[rng.between(0, cfg.nemesis.len() as u64) as usize];
            let target = match leader {
                Some(l) if rng.between(0, 4) != 0 => l as usize,
                _ => rng.between(0, BROKERS as u64) as usize,
            };
            (fault, target)
        };
        let hold = Duration::from_millis(rng.between(500, 2000));
        let at = s.start.elapsed().as_nanos() as u64;
        bar.set_message(format!("{} broker {target}", fault.name()));
        let seen = (TOPIC, leader.map(|l| l as usize));
        let notes = nemesis::strike(cluster, fault, target, seen, BROKERS, hold).await?;
        faults.push(json!({
            "fault": fault.name(), "broker": target, "start_ns": at,
            "end_ns": s.start.elapsed().as_nanos() as u64, "notes": notes,
        }));
        bar.set_message("");
    }
    s.stop.store(true, Ordering::SeqCst);
    for h in producing.into_iter().chain(consuming) {
        let _ = h.await;
    }
    bar.finish_and_clear();
    cluster.heal().await?;
    wait_for(s, Duration::from_secs(60), |l| {
        l.id >= 0 && l.in_sync == BROKERS
    })
    .await?;
    let survivors = workload::final_read(s, Duration::from_secs(60)).await?;
    Ok((faults, survivors))
}

/// Acknowledged appends whose value the final read did not return: the
/// model's `acked_never_lost`, as the run saw it. (A record read and then
/// lost shows in the checker as inconsistent offsets rather than as a
/// lost write; this count covers both.)
fn acked_missing(ops: &[Value], reader: u64) -> usize {
    let read: std::collections::HashSet<&str> = ops
        .iter()
        .filter(|o| o["f"] == "poll" && o["process"] == reader)
        .flat_map(|o| o["records"].as_array().into_iter().flatten())
        .filter_map(|r| r[1].as_str())
        .collect();
    ops.iter()
        .filter(|o| o["f"] == "append" && o["type"] == "ok")
        .filter_map(|o| o["value"].as_str())
        .filter(|v| !read.contains(v))
        .count()
}

fn producers(cfg: &TortureConfig) -> usize {
    (cfg.clients - cfg.clients / 2).max(1)
}

/// Waits until the partition's metadata satisfies `ok`.
async fn wait_for(
    s: &workload::Shared,
    within: Duration,
    ok: impl Fn(workload::Leader) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let l = workload::leader(s).await;
        if l.is_some_and(&ok) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the cluster did not settle within {within:?} (last seen: {l:?})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn progress(cfg: &TortureConfig) -> indicatif::ProgressBar {
    if cfg.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(cfg.ops);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} appends {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
