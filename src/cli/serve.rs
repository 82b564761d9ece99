//! `insync cluster`, `insync broker` and `insync controller`: the flags
//! checked and turned into the library's options, then served.

use super::{BrokerArgs, ClusterArgs, ControllerArgs, TimingFlags, TopicFlags};
use insync::core::settings::KafkaSettings;
use insync::server::run::{ClusterPlan, run_broker, run_cluster, run_controller};
use insync::server::runtime::BrokerOptions;
use insync::server::topic_settings::TopicSettings;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The settings new topics start from, or why they are impossible.
fn topic_settings(t: &TopicFlags, replication_factor: u8) -> Result<TopicSettings, String> {
    let s = TopicSettings {
        partitions: t.partitions,
        kafka: KafkaSettings {
            replication_factor,
            min_insync_replicas: t.min_isr,
            unclean_leader_election_enable: t.unclean,
            eligible_leader_replicas_enable: t.elr,
            log_flush_interval_messages: t.flush_every,
            ..KafkaSettings::default()
        },
    };
    s.check().map_err(|e| {
        format!(
            "impossible topic settings (--min-isr, --partitions, --flush-every, or the \
             replication factor: --replication-factor, which `cluster` takes from --brokers): {}",
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

/// A broker's options from its flags; `id` and addresses as given.
struct BrokerParts<'a> {
    id: u8,
    listen: SocketAddr,
    controller: SocketAddr,
    defaults: TopicSettings,
    topics: &'a TopicFlags,
    timing: &'a TimingFlags,
    trace: Option<PathBuf>,
    data_dir: Option<PathBuf>,
}

fn broker_options(p: BrokerParts) -> BrokerOptions {
    BrokerOptions {
        id: p.id,
        listen: p.listen,
        advertise: None,
        controller: p.controller,
        peer_routes: Vec::new(),
        defaults: p.defaults,
        max_request_bytes: p.topics.max_request_bytes,
        replica_lag: Duration::from_millis(p.timing.replica_lag_ms),
        heartbeat: Duration::from_millis(p.timing.session_timeout_ms / 4),
        session_timeout: Duration::from_millis(p.timing.session_timeout_ms),
        fetch_wait: Duration::from_millis(p.timing.fetch_wait_ms),
        group_initial_delay: Duration::from_millis(p.timing.group_initial_rebalance_delay_ms),
        trace: p.trace,
        data_dir: p.data_dir,
    }
}

/// A controller and `--brokers` brokers in this process.
pub fn cluster(a: &ClusterArgs) -> Result<(), String> {
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
    let controller = SocketAddr::new(ip, port(a.brokers)?);
    let brokers = (0..a.brokers)
        .map(|i| Ok(SocketAddr::new(ip, port(i)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let template = broker_options(BrokerParts {
        id: 0,
        listen: controller,
        controller,
        defaults,
        topics: &a.topics,
        timing: &a.timing,
        trace: None,
        data_dir: a.data_dir.clone(),
    });
    run_cluster(ClusterPlan {
        controller,
        brokers,
        session_timeout: Duration::from_millis(a.timing.session_timeout_ms),
        leader_balance: a.balance.interval()?,
        template,
        trace_dir: a.trace_dir.clone(),
    })
}

pub fn broker(a: &BrokerArgs) -> Result<(), String> {
    let defaults = topic_settings(&a.topics, a.replication_factor)?;
    check_timing(&a.timing)?;
    let mut opts = broker_options(BrokerParts {
        id: a.id,
        listen: parse_addr("--listen", &a.listen)?,
        controller: parse_addr("--controller", &a.controller)?,
        defaults,
        topics: &a.topics,
        timing: &a.timing,
        trace: a.trace.clone(),
        data_dir: a.data_dir.clone(),
    });
    opts.peer_routes = a
        .peer_routes
        .iter()
        .map(|r| {
            let (id, addr) = r
                .split_once('=')
                .ok_or_else(|| format!("--peer-route {r}: expected ID=HOST:PORT"))?;
            let id: u8 = id
                .parse()
                .map_err(|e| format!("--peer-route {r}: broker id {id:?}: {e}"))?;
            Ok((id, parse_addr("--peer-route", addr)?))
        })
        .collect::<Result<_, String>>()?;
    opts.advertise = a
        .advertise
        .as_deref()
        .map(|s| parse_addr("--advertise", s))
        .transpose()?;
    run_broker(opts)
}

pub fn controller(a: &ControllerArgs) -> Result<(), String> {
    if a.session_timeout_ms < 10 {
        return Err(format!(
            "--session-timeout-ms {}: give at least 10 ms",
            a.session_timeout_ms
        ));
    }
    let listen = parse_addr("--listen", &a.listen)?;
    run_controller(
        listen,
        Duration::from_millis(a.session_timeout_ms),
        a.balance.interval()?,
        a.trace.as_deref(),
        a.data_dir.as_deref(),
    )
}
