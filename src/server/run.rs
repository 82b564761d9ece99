//! `insync cluster`: checks the settings, binds the listeners, prints the
//! bootstrap address and serves until Ctrl-C.

use super::broker::{Broker, Shared, TopicSettings};
use super::conn::{ListenConfig, bind, serve};
use super::metadata::BrokerAddr;
use crate::cli::ClusterArgs;
use crate::core::config::ProtocolConfig;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The settings a cluster's topics start from, or why they are impossible.
pub fn topic_settings(a: &ClusterArgs) -> Result<TopicSettings, String> {
    if a.brokers != 1 {
        return Err(format!(
            "--brokers {}: replication between brokers is not built yet; this \
             version runs one broker (--brokers 1)",
            a.brokers
        ));
    }
    if a.min_isr < 1 || a.min_isr > a.brokers {
        return Err(format!(
            "--min-isr {} is impossible with a replication factor of {} \
             (one replica per broker): it must be between 1 and {}",
            a.min_isr, a.brokers, a.brokers
        ));
    }
    if a.partitions < 1 {
        return Err(format!(
            "--partitions {}: a topic needs at least one",
            a.partitions
        ));
    }
    if a.flush_every == Some(0) {
        return Err("--flush-every 0: give a positive number of records".into());
    }
    Ok(TopicSettings {
        partitions: a.partitions,
        replication_factor: a.brokers,
        protocol: ProtocolConfig {
            min_insync_replicas: a.min_isr,
            unclean_leader_election: a.unclean,
            flush_interval_messages: a.flush_every,
            ..ProtocolConfig::default()
        },
    })
}

/// Runs the cluster until Ctrl-C. Errors are bad settings or a port that
/// cannot be bound.
pub fn run_cluster(a: &ClusterArgs) -> Result<(), String> {
    let settings = topic_settings(a)?;
    let ip: IpAddr = a
        .host
        .parse()
        .map_err(|e| format!("--host {}: {e}", a.host))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let (listener, addr) = bind(SocketAddr::new(ip, a.base_port))
            .await
            .map_err(|e| format!("cannot listen on {ip}:{}: {e}", a.base_port))?;
        let broker = Broker::single(
            BrokerAddr {
                id: 0,
                host: addr.ip().to_string(),
                port: addr.port(),
            },
            settings,
        );
        let cfg = ListenConfig {
            max_request_bytes: a.max_request_bytes,
            shared: Arc::new(Shared::new(broker)),
        };
        println!("bootstrap: {addr}");
        eprintln!("insync: broker 0 serving on {addr}; Ctrl-C stops it");
        tokio::select! {
            served = serve(listener, cfg) => served.map_err(|e| format!("the listener failed: {e}")),
            _ = tokio::signal::ctrl_c() => {
                eprintln!("insync: stopping");
                Ok(())
            }
        }
    })
}
