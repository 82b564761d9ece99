//! `insync cluster`, `insync broker` and `insync controller`: check the
//! settings, bind, print the addresses and serve until Ctrl-C.

use super::control::serve::serve_controller;
use super::runtime::{BrokerOptions, start_broker, start_cluster};
use super::topic_settings::TopicSettings;
use super::trace::TraceSink;
use crate::cli::{BrokerArgs, ClusterArgs, ControllerArgs, TimingFlags, TopicFlags};
use crate::core::settings::KafkaSettings;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The settings new topics start from, or why they are impossible.
pub fn topic_settings(t: &TopicFlags, replication_factor: u8) -> Result<TopicSettings, String> {
    let s = TopicSettings {
        partitions: t.partitions,
        kafka: KafkaSettings {
            replication_factor,
            min_insync_replicas: t.min_isr,
            unclean_leader_election_enable: t.unclean,
            log_flush_interval_messages: t.flush_every,
            ..KafkaSettings::default()
        },
    };
    s.check().map_err(|e| {
        format!(
            "impossible topic settings (--min-isr, --partitions, --brokers, \
             --replication-factor or --flush-every): {}",
            e.message
        )
    })?;
    Ok(s)
}

fn check_timing(t: &TimingFlags) -> Result<(), String> {
    for (name, v) in [
        ("--session-timeout-ms", t.session_timeout_ms),
        ("--replica-lag-ms", t.replica_lag_ms),
    ] {
        if v < 10 {
            return Err(format!("{name} {v}: give at least 10 ms"));
        }
    }
    Ok(())
}

fn parse_addr(flag: &str, s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("{flag} {s}: {e} (expected HOST:PORT with an IP address)"))
}

#[allow(clippy::too_many_arguments)]
fn broker_options(
    id: u8,
    listen: SocketAddr,
    controller: SocketAddr,
    defaults: TopicSettings,
    topics: &TopicFlags,
    timing: &TimingFlags,
    trace: Option<std::path::PathBuf>,
    data_dir: Option<std::path::PathBuf>,
) -> BrokerOptions {
    BrokerOptions {
        id,
        listen,
        advertise: None,
        controller,
        defaults,
        max_request_bytes: topics.max_request_bytes,
        replica_lag: Duration::from_millis(timing.replica_lag_ms),
        heartbeat: Duration::from_millis(timing.session_timeout_ms / 4),
        fetch_wait: Duration::from_millis(timing.fetch_wait_ms),
        trace,
        data_dir,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn trace_sink(path: Option<&Path>) -> Result<TraceSink, String> {
    path.map(|p| {
        std::fs::File::create(p)
            .map(|f| Arc::new(Mutex::new(f)))
            .map_err(|e| format!("cannot write the trace {}: {e}", p.display()))
    })
    .transpose()
}

async fn until_ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("insync: stopping");
}

/// A controller and `brokers` brokers in this process.
pub fn run_cluster(a: &ClusterArgs) -> Result<(), String> {
    // Broker sets are 32-bit masks.
    if !(1..=32).contains(&a.brokers) {
        return Err(format!("--brokers {}: give 1 to 32", a.brokers));
    }
    let defaults = topic_settings(&a.topics, a.brokers as u8)?;
    check_timing(&a.timing)?;
    let ip: IpAddr = a
        .host
        .parse()
        .map_err(|e| format!("--host {}: {e}", a.host))?;
    if let Some(dir) = &a.trace_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("--trace-dir {}: {e}", dir.display()))?;
    }
    let port = |i: usize| {
        if a.base_port == 0 {
            Ok(0)
        } else {
            u16::try_from(usize::from(a.base_port) + i)
                .map_err(|_| format!("--base-port {} + {i} is past 65535", a.base_port))
        }
    };
    let controller_port = port(a.brokers)?;
    let broker_ports: Vec<u16> = (0..a.brokers).map(port).collect::<Result<_, _>>()?;
    let controller = SocketAddr::new(ip, controller_port);
    let brokers: Vec<SocketAddr> = broker_ports
        .iter()
        .map(|p| SocketAddr::new(ip, *p))
        .collect();
    // Id and addresses are set per broker by `start_cluster`.
    let template = broker_options(
        0,
        controller,
        controller,
        defaults,
        &a.topics,
        &a.timing,
        None,
        a.data_dir.clone(),
    );
    let session = Duration::from_millis(a.timing.session_timeout_ms);
    runtime()?.block_on(async {
        let c = start_cluster(
            controller,
            &brokers,
            session,
            &template,
            a.trace_dir.as_deref(),
        )
        .await?;
        println!("bootstrap: {}", c.bootstrap());
        eprintln!(
            "insync: {} broker(s) and a controller at {}; Ctrl-C stops them",
            a.brokers, c.controller
        );
        until_ctrl_c().await;
        Ok(())
    })
}

pub fn run_broker(a: &BrokerArgs) -> Result<(), String> {
    let defaults = topic_settings(&a.topics, a.replication_factor)?;
    check_timing(&a.timing)?;
    let listen = parse_addr("--listen", &a.listen)?;
    let controller = parse_addr("--controller", &a.controller)?;
    let mut opts = broker_options(
        a.id,
        listen,
        controller,
        defaults,
        &a.topics,
        &a.timing,
        a.trace.clone(),
        a.data_dir.clone(),
    );
    opts.advertise = a
        .advertise
        .as_deref()
        .map(|s| parse_addr("--advertise", s))
        .transpose()?;
    runtime()?.block_on(async {
        let (addr, _) = start_broker(opts)
            .await
            .map_err(|e| format!("cannot start broker {} on {listen}: {e}", a.id))?;
        println!("broker {}: {addr}", a.id);
        until_ctrl_c().await;
        Ok(())
    })
}

pub fn run_controller(a: &ControllerArgs) -> Result<(), String> {
    if a.session_timeout_ms < 10 {
        return Err(format!(
            "--session-timeout-ms {}: give at least 10 ms",
            a.session_timeout_ms
        ));
    }
    let listen = parse_addr("--listen", &a.listen)?;
    let trace = trace_sink(a.trace.as_deref())?;
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("controller: {addr}");
        let session = Duration::from_millis(a.session_timeout_ms);
        tokio::select! {
            r = serve_controller(listener, session, trace) => r.map_err(|e| format!("the listener failed: {e}")),
            _ = until_ctrl_c() => Ok(()),
        }
    })
}
