use clap::Parser;
use insync::check::{self, CheckOptions};
use insync::cli::{BenchArgs, CheckArgs, Cli, Command, ExploreArgs, Format, MatrixArgs};
use insync::matrix;
use insync::model::properties::SAFETY;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes: verdicts as expected, a verdict differs, bad input.
const OK: u8 = 0;
const MISMATCH: u8 = 1;
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { BAD_INPUT } else { OK });
        }
    };
    let result = match cli.command {
        None => matrix_cmd(MatrixArgs {
            format: Format::Text,
            models: "models".into(),
            threads: 0,
            quiet: false,
        }),
        Some(Command::Matrix(a)) => matrix_cmd(a),
        Some(Command::Check(a)) => check_cmd(a),
        Some(Command::Explore(a)) => explore_cmd(a),
        Some(Command::Bench(a)) => bench_cmd(a),
        Some(Command::Cluster(a)) => insync::server::run::run_cluster(&a).map(|()| OK),
        Some(Command::Broker(a)) => insync::server::run::run_broker(&a).map(|()| OK),
        Some(Command::Controller(a)) => insync::server::run::run_controller(&a).map(|()| OK),
        Some(Command::Lincheck(a)) => lincheck_cmd(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("insync: {e}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

fn progress_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

fn check_cmd(a: CheckArgs) -> Result<u8, String> {
    let scenario = a.config.resolve()?;
    let opts = CheckOptions {
        threads: a.threads,
        progress: progress_wanted(a.quiet),
        symmetry: !a.no_symmetry,
        simulate: a.simulate.then(|| Duration::from_secs(a.seconds)),
        seed: a.seed,
    };
    let report = check::run(&scenario.config, &scenario.expect, &opts);
    match a.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        ),
        Format::Text | Format::Markdown => {
            let title = match &scenario.path {
                Some(p) => p.display().to_string(),
                None => "flags".into(),
            };
            print!("{}", report.to_text(&title));
            if !scenario.why.is_empty() && !a.quiet {
                println!("\nwhy: {}", scenario.why.trim());
            }
        }
    }
    Ok(if report.matches() { OK } else { MISMATCH })
}

fn lincheck_cmd(a: insync::cli::LincheckArgs) -> Result<u8, String> {
    use insync::lincheck::{anomalies, history};
    let text =
        std::fs::read_to_string(&a.history).map_err(|e| format!("{}: {e}", a.history.display()))?;
    let ops = history::parse(&text).map_err(|e| format!("{}: {e}", a.history.display()))?;
    let found = anomalies::find(&ops);
    let deadline = std::time::Instant::now() + Duration::from_millis(a.deadline_ms);
    let verdicts = insync::lincheck::linearizability(&ops, Some(deadline));
    let verdict_name = |v: &insync::lincheck::wgl::Verdict| match v {
        insync::lincheck::wgl::Verdict::Linearizable => "linearizable",
        insync::lincheck::wgl::Verdict::NotLinearizable { .. } => "not linearizable",
        insync::lincheck::wgl::Verdict::Unknown => "unknown",
    };
    let linearizable = verdicts
        .values()
        .all(|v| *v == insync::lincheck::wgl::Verdict::Linearizable);
    match a.format {
        Format::Json => {
            let partitions: serde_json::Map<String, serde_json::Value> = verdicts
                .iter()
                .map(|(p, v)| {
                    let op = match v {
                        insync::lincheck::wgl::Verdict::NotLinearizable { op } => Some(*op),
                        _ => None,
                    };
                    (
                        p.clone(),
                        serde_json::json!({"verdict": verdict_name(v), "stuck_at_op": op}),
                    )
                })
                .collect();
            let out = serde_json::json!({
                "history": a.history,
                "operations": ops.len(),
                "valid": found.is_empty() && linearizable,
                "partitions": partitions,
                "anomalies": found,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        Format::Text | Format::Markdown => {
            println!("{}: {} operations", a.history.display(), ops.len());
            for (p, v) in &verdicts {
                match v {
                    insync::lincheck::wgl::Verdict::NotLinearizable { op } => {
                        println!("{p}: not linearizable: no order gets past operation {op}")
                    }
                    insync::lincheck::wgl::Verdict::Unknown => println!(
                        "{p}: unknown: the search passed its deadline ({} ms)",
                        a.deadline_ms
                    ),
                    insync::lincheck::wgl::Verdict::Linearizable => println!("{p}: linearizable"),
                }
            }
            if found.is_empty() {
                println!("no anomaly");
            }
            for x in &found {
                let kind = serde_json::to_value(x.kind).map_err(|e| e.to_string())?;
                println!(
                    "{} in {}: {} (operations {:?})",
                    kind.as_str().unwrap_or("?"),
                    x.partition,
                    x.detail,
                    x.ops
                );
            }
        }
    }
    Ok(if found.is_empty() && linearizable {
        OK
    } else {
        MISMATCH
    })
}

fn matrix_cmd(a: MatrixArgs) -> Result<u8, String> {
    let m = matrix::build(&a.models, progress_wanted(a.quiet), a.threads)?;
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

fn bench_cmd(a: BenchArgs) -> Result<u8, String> {
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
