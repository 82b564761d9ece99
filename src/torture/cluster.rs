//! The cluster under test: a controller and three brokers as real
//! processes of this same binary, each broker behind a proxy for its
//! clients, another for its controller link, and one per peer for
//! replication in each direction (Kafka's inter-broker listener is a
//! listener of its own), so that any broker can be killed, paused,
//! stopped, power-cycled, cut off from everything, or cut off from the
//! cluster while its clients still reach it.

use super::proxy::Proxy;
use crate::core::settings::KafkaSettings;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// What every broker is started with.
#[derive(Clone, Debug)]
pub struct BrokerFlags {
    pub brokers: usize,
    /// min.insync.replicas, unclean.leader.election.enable and
    /// log.flush.interval.messages for the brokers' topics.
    pub kafka: KafkaSettings,
    pub session_timeout_ms: u64,
    pub replica_lag_ms: u64,
    pub fetch_wait_ms: u64,
}

struct Broker {
    child: Option<Child>,
    paused: bool,
    /// Clients reach the broker here.
    front: Proxy,
    /// The broker reaches the controller here.
    control: Proxy,
    /// This broker's fetches reach peer `j` through `routes[j]` (none to
    /// itself).
    routes: Vec<Option<Proxy>>,
}

pub struct Cluster {
    exe: PathBuf,
    dir: PathBuf,
    flags: BrokerFlags,
    controller: Option<Child>,
    /// Where the controller listens, the same in every life, so the
    /// brokers' control proxies reach each one.
    controller_addr: SocketAddr,
    brokers: Vec<Broker>,
    /// The largest resident set each node reached in any of its lives, kB.
    peaks: BTreeMap<String, u64>,
}

/// A process's peak resident set (`VmHWM`), in kB, while it runs (Linux).
fn peak_rss_kb(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Starts `cmd` with stderr appended to `log` and waits for its first line
/// on stdout, which ends with the address it listens on.
async fn spawn(mut cmd: Command, log: &Path) -> Result<(Child, SocketAddr), String> {
    let err = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    cmd.stdout(Stdio::piped()).stderr(err).kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        BufReader::new(out).read_line(&mut line),
    )
    .await
    .map_err(|_| format!("{cmd:?} printed nothing in 10 s (see {})", log.display()))?
    .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("{cmd:?} printed {line:?}, not its address"))?;
    Ok((child, addr))
}

fn signal(child: &Child, sig: &str) -> Result<(), String> {
    let pid = child.id().ok_or("the process has exited")?;
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map_err(|e| format!("kill {sig}: {e}"))?
        .success();
    ok.then_some(())
        .ok_or_else(|| format!("kill {sig} {pid} failed"))
}

impl Cluster {
    pub async fn start(exe: PathBuf, dir: &Path, flags: BrokerFlags) -> Result<Cluster, String> {
        for sub in ["data", "traces", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let (controller, controller_addr) = controller_command(
            &exe,
            dir,
            &flags,
            "127.0.0.1:0".parse().expect("an address"),
        )
        .await?;
        let mut brokers = Vec::new();
        let proxy = || async {
            // Broker-facing targets are set once the broker has a port.
            Proxy::start(controller_addr)
                .await
                .map_err(|e| e.to_string())
        };
        for i in 0..flags.brokers {
            let mut routes = Vec::new();
            for j in 0..flags.brokers {
                routes.push(if i == j { None } else { Some(proxy().await?) });
            }
            brokers.push(Broker {
                child: None,
                paused: false,
                front: proxy().await?,
                control: proxy().await?,
                routes,
            });
        }
        let mut c = Cluster {
            exe,
            dir: dir.to_path_buf(),
            flags,
            controller: Some(controller),
            controller_addr,
            brokers,
            peaks: BTreeMap::new(),
        };
        for i in 0..c.brokers.len() {
            c.start_broker(i).await?;
        }
        Ok(c)
    }

    /// SIGKILL the controller.
    pub async fn kill_controller(&mut self) {
        if let Some(mut c) = self.controller.take() {
            self.note_peak("controller".into(), &c);
            let _ = c.kill().await;
        }
    }

    /// Starts the controller again on its metadata log and address.
    pub async fn start_controller(&mut self) -> Result<(), String> {
        if self.controller.is_some() {
            return Ok(());
        }
        let (c, addr) =
            controller_command(&self.exe, &self.dir, &self.flags, self.controller_addr).await?;
        if addr != self.controller_addr {
            return Err(format!(
                "the controller came back on {addr}, not {}",
                self.controller_addr
            ));
        }
        self.controller = Some(c);
        Ok(())
    }

    /// Where clients start: every broker's front proxy.
    pub fn bootstrap(&self) -> Vec<SocketAddr> {
        self.brokers.iter().map(|b| b.front.addr).collect()
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("data/broker-{i}"))
    }

    pub async fn start_broker(&mut self, i: usize) -> Result<(), String> {
        let f = &self.flags;
        let b = &self.brokers[i];
        let mut cmd = Command::new(&self.exe);
        cmd.arg("broker")
            .args(["--id", &i.to_string(), "--listen", "127.0.0.1:0"])
            .args(["--advertise", &b.front.addr.to_string()])
            .args(["--controller", &b.control.addr.to_string()])
            .args(b.routes.iter().enumerate().flat_map(|(j, r)| {
                r.as_ref()
                    .map(|r| ["--peer-route".to_string(), format!("{j}={}", r.addr)])
                    .into_iter()
                    .flatten()
            }))
            .args(["--replication-factor", &f.brokers.to_string()])
            .args(["--min-isr", &f.kafka.min_insync_replicas.to_string()])
            .args(["--session-timeout-ms", &f.session_timeout_ms.to_string()])
            .args(["--replica-lag-ms", &f.replica_lag_ms.to_string()])
            .args(["--fetch-wait-ms", &f.fetch_wait_ms.to_string()])
            .arg("--data-dir")
            .arg(self.data_dir(i))
            .arg("--trace")
            .arg(
                self.dir
                    .join(format!("traces/broker-{i}.jsonl.{}", self.restarts(i))),
            );
        if f.kafka.unclean_leader_election_enable {
            cmd.arg("--unclean");
        }
        // A cluster formatted at 4.1 or later, as the scenario's release.
        if f.kafka.eligible_leader_replicas_enable {
            cmd.arg("--elr");
        }
        if let Some(n) = f.kafka.log_flush_interval_messages {
            cmd.args(["--flush-every", &n.to_string()]);
        }
        let log = self.dir.join(format!("logs/broker-{i}.log"));
        let (child, addr) = spawn(cmd, &log).await?;
        for peer in &self.brokers {
            if let Some(r) = &peer.routes[i] {
                r.retarget(addr);
            }
        }
        let b = &mut self.brokers[i];
        b.front.retarget(addr);
        b.child = Some(child);
        b.paused = false;
        Ok(())
    }

    /// How many trace files broker `i` has written so far: each life
    /// writes its own, so a restart does not overwrite the last one.
    fn restarts(&self, i: usize) -> usize {
        (0..)
            .find(|n| {
                !self
                    .dir
                    .join(format!("traces/broker-{i}.jsonl.{n}"))
                    .exists()
            })
            .unwrap_or(0)
    }

    /// `replica.lag.time.max.ms`: how long a silent follower stays in the ISR.
    pub fn replica_lag(&self) -> Duration {
        Duration::from_millis(self.flags.replica_lag_ms)
    }

    /// `broker.session.timeout.ms`: how long a dead broker stays leader.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.flags.session_timeout_ms)
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.brokers[i].child.is_some()
    }

    /// SIGKILL: the process dies with whatever the page cache holds.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.brokers[i].child.take() {
            self.note_peak(format!("broker-{i}"), &c);
            let _ = c.kill().await;
        }
        self.brokers[i].paused = false;
    }

    /// SIGSTOP or SIGCONT.
    pub fn pause(&mut self, i: usize, on: bool) -> Result<(), String> {
        let b = &mut self.brokers[i];
        if let Some(c) = &b.child
            && b.paused != on
        {
            signal(c, if on { "-STOP" } else { "-CONT" })?;
            b.paused = on;
        }
        Ok(())
    }

    /// The deterministic fault hook: SIGUSR1 toggles the broker's follower
    /// fetching.
    pub fn toggle_fetching(&self, i: usize) -> Result<(), String> {
        match &self.brokers[i].child {
            Some(c) => signal(c, "-USR1"),
            None => Ok(()),
        }
    }

    /// Cuts broker `i` off from clients, peers and the controller, in both
    /// directions.
    pub fn isolate(&self, i: usize, on: bool) {
        self.brokers[i].front.block(on);
        self.split(i, on);
    }

    /// Cuts broker `i` off from the controller and its peers, both ways,
    /// while its clients still reach it: a leader here is a zombie.
    pub fn split(&self, i: usize, on: bool) {
        self.brokers[i].control.block(on);
        for (j, peer) in self.brokers.iter().enumerate() {
            if let Some(r) = &self.brokers[i].routes[j] {
                r.block(on);
            }
            if let Some(r) = &peer.routes[i] {
                r.block(on);
            }
        }
    }

    /// SIGTERM: a controlled shutdown. Waits for the process to exit (up
    /// to the session timeout and a margin, then SIGKILL) and answers its
    /// exit code.
    pub async fn terminate(&mut self, i: usize) -> Result<Option<i32>, String> {
        let Some(mut c) = self.brokers[i].child.take() else {
            return Ok(None);
        };
        self.note_peak(format!("broker-{i}"), &c);
        signal(&c, "-TERM")?;
        let within = self.session_timeout() + Duration::from_secs(5);
        let code = match tokio::time::timeout(within, c.wait()).await {
            Ok(status) => status.map_err(|e| e.to_string())?.code(),
            Err(_) => {
                let _ = c.kill().await;
                return Err(format!(
                    "broker {i} did not stop within {within:?} of SIGTERM"
                ));
            }
        };
        self.brokers[i].paused = false;
        Ok(code)
    }

    /// Moves partition `partition` of `topic` to `to` (any other live ISR
    /// member if `None`) with no failure, asking the controller directly
    /// as an operator would. Answers the new leader, or Kafka's reason.
    pub async fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        to: Option<usize>,
    ) -> Result<Result<usize, String>, String> {
        use crate::server::control::wire::{self, Reader, ToBroker, ToController};
        let mut s = tokio::net::TcpStream::connect(self.controller_addr)
            .await
            .map_err(|e| format!("the controller at {}: {e}", self.controller_addr))?;
        let ask = ToController::MoveLeader {
            topic: topic.to_string(),
            partition,
            to: to.map(|b| b as u8),
        };
        wire::send(&mut s, &ask).await.map_err(|e| e.to_string())?;
        let answer = tokio::time::timeout(Duration::from_secs(10), Reader::new(s).next()).await;
        match answer {
            Ok(Ok(Some(ToBroker::LeaderMoved { result }))) => {
                Ok(result.map(usize::from).map_err(|e| e.name().to_string()))
            }
            other => Err(format!("the controller answered {other:?} to {ask:?}")),
        }
    }

    /// Undoes every fault: restarts the controller, resumes, reconnects
    /// and restarts every broker.
    pub async fn heal(&mut self) -> Result<(), String> {
        self.start_controller().await?;
        for i in 0..self.brokers.len() {
            self.isolate(i, false);
            self.pause(i, false)?;
            if !self.is_up(i) {
                self.start_broker(i).await?;
            }
        }
        Ok(())
    }

    fn note_peak(&mut self, name: String, child: &Child) {
        if let Some(kb) = peak_rss_kb(child) {
            let peak = self.peaks.entry(name).or_insert(0);
            *peak = (*peak).max(kb);
        }
    }

    /// Stops every node; answers each one's peak resident set, kB.
    pub async fn stop(mut self) -> BTreeMap<String, u64> {
        for i in 0..self.brokers.len() {
            let _ = self.pause(i, false);
            self.kill(i).await;
        }
        self.kill_controller().await;
        self.peaks
    }
}

/// Starts a controller on `listen` with its metadata log under `data/` and
/// a trace file of its own for each life.
async fn controller_command(
    exe: &Path,
    dir: &Path,
    flags: &BrokerFlags,
    listen: SocketAddr,
) -> Result<(Child, SocketAddr), String> {
    let life = (0..)
        .find(|n| !dir.join(format!("traces/controller.jsonl.{n}")).exists())
        .unwrap_or(0);
    let mut cmd = Command::new(exe);
    cmd.args(["controller", "--listen", &listen.to_string()])
        .arg("--session-timeout-ms")
        .arg(flags.session_timeout_ms.to_string())
        .arg("--data-dir")
        .arg(dir.join("data/controller"))
        .arg("--trace")
        .arg(dir.join(format!("traces/controller.jsonl.{life}")))
        // Leaders move only when the nemesis says so: a run's faults are
        // its schedule's, and its verdict is about them.
        .args(["--auto-leader-rebalance-enable", "false"]);
    spawn(cmd, &dir.join("logs/controller.log")).await
}
