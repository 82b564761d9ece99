use clap::Parser;
use insync::check::{self, CheckOptions};
mod cli;

use cli::{BenchArgs, CheckArgs, Cli, Command, ExploreArgs, Format, MatrixArgs, ReportFormat};
use insync::matrix;
use insync::model::properties::SAFETY;
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes: verdicts as expected, a verdict differs, bad input.
const OK: u8 = 0;
const MISMATCH: u8 = 1;
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    insync::alloc::purge_freed_memory_at_once();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { BAD_INPUT } else { OK });
        }
    };
    if cli.html.is_some() && cli.command.is_some() {
        eprintln!(
            "insync: --html before a command: give it after the command (insync check ... --html FILE)"
        );
        return ExitCode::from(BAD_INPUT);
    }
    let result = match cli.command {
        None => matrix_cmd(MatrixArgs {
            format: Format::Text,
            kafka_version: None,
            models: "models".into(),
            threads: 0,
            quiet: false,
            html: cli.html,
        }),
        Some(Command::Matrix(a)) => matrix_cmd(a),
        Some(Command::Advise(a)) => cli::advise::advise(&a),
        Some(Command::Check(a)) => check_cmd(a),
        Some(Command::Explore(a)) => explore_cmd(a),
        Some(Command::Releases(a)) => {
            match a.format {
                Format::Text => print!("{}", insync::releases::to_text()),
                Format::Markdown => print!("{}", insync::releases::to_markdown()),
                Format::Json => println!("{:#}", insync::releases::to_json()),
            }
            Ok(OK)
        }
        Some(Command::Bench(a)) => bench_cmd(a),
        Some(Command::Cluster(a)) => cli::serve::cluster(&a).map(|()| OK),
        Some(Command::Broker(a)) => cli::serve::broker(&a).map(|()| OK),
        Some(Command::Controller(a)) => cli::serve::controller(&a).map(|()| OK),
        Some(Command::Lincheck(a)) => lincheck_cmd(a),
        Some(Command::BenchLincheck(a)) => bench_lincheck_cmd(a),
        Some(Command::Torture(a)) => torture_cmd(a),
        Some(Command::Conform(a)) => conform_cmd(a),
        Some(Command::Crosscheck(a)) => crosscheck_cmd(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("insync: {e}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// Progress goes to stderr unless `--quiet`: redrawn on a terminal, a
/// plain line every few seconds elsewhere.
fn progress_wanted(quiet: bool) -> bool {
    !quiet
}

fn check_cmd(a: CheckArgs) -> Result<u8, String> {
    let (scenario, reading) = a.config.resolve_reading()?;
    if let Some(r) = &reading
        && !a.quiet
        && a.format == ReportFormat::Text
    {
        eprint!("{}", r.to_text());
    }
    let opts = CheckOptions {
        threads: a.threads,
        progress: progress_wanted(a.quiet),
        symmetry: !a.no_symmetry,
        sleep_sets: !a.no_por,
        client_first: !a.no_por && !a.no_client_first,
        drop_ignored: !a.no_por && !a.no_drop_ignored,
        news_first: !a.no_por && !a.no_news_first,
        simulate: a.simulate.then(|| match (a.seconds, a.walks) {
            (Some(s), _) => Duration::from_secs(s),
            // Bounded by walks alone.
            (None, Some(_)) => Duration::MAX,
            (None, None) => Duration::from_secs(10),
        }),
        walks: a.walks,
        time_limit: a.seconds.filter(|_| !a.simulate).map(Duration::from_secs),
        memory_limit: a.max_memory.or_else(check::default_memory_limit),
        enough: Vec::new(),
        seed: a.seed,
    };
    if a.walks.is_some() && !a.simulate && scenario.walks.is_none() {
        return Err(
            "--walks counts random walks: give --simulate too (or a scenario file with [check] walks)"
                .into(),
        );
    }
    // A file checked by walks (`[check] walks`) is walked unless asked
    // otherwise; `--seconds` then bounds the walks, `--walks` sets how many.
    let opts = match scenario.walks {
        Some(_) if !a.simulate => CheckOptions {
            simulate: a.seconds.map(Duration::from_secs),
            time_limit: None,
            ..opts
        }
        .walking(scenario.walks),
        _ => opts,
    };
    if a.simulate && scenario.config.network != insync::model::NetworkKind::Ordered {
        return Err(format!(
            "--simulate walks the ordered network only; check the {} network exhaustively (--seconds N bounds it)",
            scenario.config.network
        ));
    }
    stop_on_ctrl_c();
    let report = check::run(&scenario.config, &scenario.expect, &opts);
    if let Some(path) = &a.html {
        let title = match &scenario.path {
            Some(p) => format!("insync check {}", p.display()),
            None => format!("insync check: {}", scenario.config.summary()),
        };
        write_file(path, &check::html::render(&title, &report))?;
    }
    match a.format {
        ReportFormat::Json => {
            let mut json = serde_json::to_value(&report).map_err(|e| e.to_string())?;
            if let (Some(r), Some(o)) = (&reading, json.as_object_mut()) {
                let r = serde_json::to_value(r).map_err(|e| e.to_string())?;
                o.insert("config_files".into(), r);
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
            )
        }
        ReportFormat::Text => {
            let title = match (&scenario.path, &reading) {
                (Some(p), _) => p.display().to_string(),
                (None, Some(_)) => "your configuration".into(),
                (None, None) => "flags".into(),
            };
            print!("{}", report.to_text(&title));
            if !scenario.why.is_empty() && !a.quiet {
                println!("\nwhy: {}", scenario.why.trim());
            }
        }
    }
    let unreached = report.unreached();
    if !unreached.is_empty() {
        eprintln!(
            "insync: inconclusive: no {} reached {}, so what they did not find proves nothing; run longer (--seconds) or check exhaustively",
            if report.simulation {
                "walk"
            } else {
                "state searched"
            },
            unreached.join(", ")
        );
    }
    Ok(if report.matches() && unreached.is_empty() {
        OK
    } else {
        MISMATCH
    })
}

/// The first Ctrl-C stops a check, which then reports what it has; a
/// second one ends the process at once.
/// Writes a whole file, or says which and why not.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub(crate) fn stop_on_ctrl_c() {
    use std::sync::atomic::Ordering;
    let _ = ctrlc::set_handler(|| {
        if check::INTERRUPTED.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
}

fn crosscheck_cmd(a: cli::CrosscheckArgs) -> Result<u8, String> {
    use insync::crosscheck::{CrossConfig, crosscheck};
    let exe = std::env::current_exe().map_err(|e| format!("cannot find insync itself: {e}"))?;
    let c = CrossConfig {
        scenario: a.scenario.clone(),
        walks: a.walks,
        seed: a.seed,
        out: a.out.clone(),
        ops: a.ops,
        max_steps: a.max_steps,
        counterexample: !a.no_counterexample,
        quiet: a.quiet,
    };
    let (report, agree) = crosscheck(&c, &exe)?;
    match a.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        ),
        ReportFormat::Text => {
            for w in report["walks"].as_array().into_iter().flatten() {
                let faults: Vec<String> = w["faults"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        format!(
                            "{} {}",
                            f["fault"].as_str().unwrap_or("?"),
                            f["role"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                println!(
                    "walk {} ({}, {} steps, faults: {}): model: {}; cluster: {}{} -> {}",
                    w["walk"],
                    w["kind"].as_str().unwrap_or("?"),
                    w["steps"],
                    if faults.is_empty() {
                        "none".to_string()
                    } else {
                        faults.join(", ")
                    },
                    w["model"].as_str().unwrap_or("?"),
                    w["cluster"].as_str().unwrap_or("?"),
                    if w["traces_conform"] == true {
                        ""
                    } else {
                        ", traces do not conform"
                    },
                    w["verdict"].as_str().unwrap_or("?")
                );
            }
        }
    }
    Ok(if agree { OK } else { MISMATCH })
}

fn conform_cmd(a: cli::ConformArgs) -> Result<u8, String> {
    let steps = insync::conform::load(&a.traces).map_err(|e| e.to_string())?;
    let out = insync::conform::check(&steps);
    match a.format {
        ReportFormat::Json => {
            let j = serde_json::json!({
                "traces": a.traces,
                "steps": steps.len(),
                "steps_allowed": out.steps,
                "partitions": out.partitions,
                "conforms": out.violation.is_none(),
                "violation": out.violation,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&j).map_err(|e| e.to_string())?
            );
        }
        ReportFormat::Text => match &out.violation {
            None => println!(
                "{}: all {} steps allowed ({} partitions)",
                a.traces.display(),
                steps.len(),
                out.partitions
            ),
            Some(v) => {
                println!(
                    "{}:{}: step {} breaks {}: {}\n  event: {}\n  state before: {}",
                    v.file, v.line, v.step, v.rule, v.detail, v.event, v.state_before
                );
            }
        },
    }
    Ok(if out.violation.is_none() {
        OK
    } else {
        MISMATCH
    })
}

fn torture_cmd(a: cli::TortureArgs) -> Result<u8, String> {
    use insync::core::settings::KafkaSettings;
    use insync::torture::{BROKERS, TortureConfig, nemesis, run};
    let cfg = TortureConfig {
        kafka: KafkaSettings {
            acks: a.acks,
            replication_factor: BROKERS as u8,
            min_insync_replicas: a.min_isr,
            unclean_leader_election_enable: a.unclean,
            eligible_leader_replicas_enable: a.elr,
            log_flush_interval_messages: a.flush_every,
            ..KafkaSettings::default()
        },
        nemesis: nemesis::parse(&a.nemesis)?,
        schedule: Vec::new(),
        ops: a.ops,
        clients: a.clients,
        rate: a.rate,
        seed: a.seed,
        out: a.out.clone(),
        time_limit: Duration::from_secs(a.time_limit_s),
        quiet: a.quiet,
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find insync itself: {e}"))?;
    let outcome = run(&cfg, exe)?;
    match a.format {
        ReportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&outcome.summary).map_err(|e| e.to_string())?
        ),
        ReportFormat::Text => {
            let s = &outcome.summary;
            println!(
                "{}: {} appends ok, {} failed, {} unknown; {} polls; {} faults; {} records read back, {} acknowledged ones missing",
                a.out.display(),
                s["appends"]["ok"],
                s["appends"]["fail"],
                s["appends"]["info"],
                s["polls"],
                s["faults"],
                s["records_read_back"],
                s["acked_missing_at_end"]
            );
            print!("{}", outcome.report.text());
            match &outcome.violation {
                None => println!("traces: all {} steps allowed", s["trace"]["steps"]),
                Some(v) => println!(
                    "traces: {}:{}: step {} breaks {}: {}",
                    v.file, v.line, v.step, v.rule, v.detail
                ),
            }
            println!("report: {}", s["html_report"].as_str().unwrap_or("?"));
        }
    }
    Ok(if outcome.passed() { OK } else { MISMATCH })
}

fn lincheck_cmd(a: cli::LincheckArgs) -> Result<u8, String> {
    use insync::lincheck::{history, report::Report};
    let text =
        std::fs::read_to_string(&a.history).map_err(|e| format!("{}: {e}", a.history.display()))?;
    let ops = history::parse(&text).map_err(|e| format!("{}: {e}", a.history.display()))?;
    let report = Report::check(&ops, Duration::from_millis(a.deadline_ms));
    if let Some(path) = &a.html {
        let title = format!("insync lincheck: {}", a.history.display());
        let sibling = a.history.with_file_name("nemesis.jsonl");
        let nemesis = a.nemesis.clone().or(sibling.exists().then_some(sibling));
        let faults = match &nemesis {
            None => Vec::new(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                insync::lincheck::plots::parse_nemesis(&text)
                    .map_err(|e| format!("{}: {e}", p.display()))?
            }
        };
        let page = insync::lincheck::html::render(&title, &ops, &report, &faults);
        write_file(path, &page)?;
    }
    match a.format {
        ReportFormat::Json => {
            let mut out = report.to_json();
            out["history"] = serde_json::json!(a.history);
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        ReportFormat::Text => {
            println!("{}: {} operations", a.history.display(), ops.len());
            print!("{}", report.text());
        }
    }
    Ok(if report.valid() { OK } else { MISMATCH })
}

fn matrix_cmd(a: MatrixArgs) -> Result<u8, String> {
    let progress = progress_wanted(a.quiet);
    let m = match &a.html {
        None => matrix::build(&a.models, a.kafka_version, progress, a.threads)?,
        Some(path) => {
            let (m, page) =
                insync::matrix_html::build(&a.models, a.kafka_version, progress, a.threads)?;
            write_file(path, &page)?;
            m
        }
    };
    match a.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?
        ),
        Format::Markdown => print!("{}", m.to_markdown()),
        Format::Text => print!("{}", m.to_text()),
    }
    Ok(OK)
}

fn explore_cmd(a: ExploreArgs) -> Result<u8, String> {
    use stateright::Model;
    let scenario = a.config.resolve()?;
    let opts = CheckOptions {
        progress: progress_wanted(false),
        ..CheckOptions::default()
    };
    let report = check::run(&scenario.config, &scenario.expect, &opts);
    let base = format!("http://{}", a.addr);
    println!("Explorer for {}", scenario.config.summary());
    println!("  {base}/");
    for name in SAFETY {
        if let Some(c) = report
            .property(name)
            .and_then(|p| p.counterexample.as_ref())
        {
            println!("  {name}: {base}/#/steps/{}", c.explorer_path);
        }
    }
    println!("(the Explorer ignores the symmetry reduction; press Ctrl-C to stop)");
    let model = scenario.config.into_model();
    let addr: std::net::SocketAddr = a
        .addr
        .parse()
        .map_err(|e| format!("--addr {}: {e}", a.addr))?;
    let listener_check =
        std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    drop(listener_check);
    model.checker().threads(a.threads.max(1)).serve(addr);
    Ok(OK)
}

/// What `insync bench` checks when given no scenario: the seed's
/// canonical cell, as BENCHMARKS.md records it.
const CANONICAL: &str = "models/seed-acksall-isr2-machine.toml";

fn bench_cmd(mut a: BenchArgs) -> Result<u8, String> {
    if a.config.scenario.is_none() {
        a.config.scenario = Some(CANONICAL.into());
    }
    let scenario = a.config.resolve()?;
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let quiet = a.quiet;
    let report = insync::bench::run(&scenario, a.runs, a.paxos_clients, a.threads, &|what| {
        if !quiet {
            eprintln!("insync bench: {what}");
        }
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    Ok(OK)
}

fn bench_lincheck_cmd(a: cli::BenchLincheckArgs) -> Result<u8, String> {
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let opts = insync::bench::lincheck::Options {
        runs: a.runs,
        ops: a.ops,
        clients: a.clients,
        partitions: a.partitions,
    };
    let quiet = a.quiet;
    let report = insync::bench::lincheck::run(&opts, &|what| {
        if !quiet {
            eprintln!("insync bench-lincheck: {what}");
        }
    })?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    Ok(if report.targets.iter().all(|t| t.met) {
        OK
    } else {
        MISMATCH
    })
}
