//! The command line: `insync check`, `insync matrix`, `insync explore`,
//! `insync bench` and `insync cluster`.

pub mod advise;
pub mod serve;

use clap::{Args, Parser, Subcommand, ValueEnum};
use insync::core::release::NEWEST;
use insync::core::types::Acks;
use insync::kafka_config::{Reading, Role};
use insync::model::config::Named;
use insync::model::{CrashMode, ModelConfig, NetworkKind};
use insync::scenario::{Scenario, parse_truncation};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "insync",
    version,
    about = "Model-checks Kafka's produce → replicate → ack protocol: which acks, min.insync.replicas and replication factor lose data, and how.",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a command (the main job): also write the table as a
    /// self-contained HTML page, each violated cell linking to its
    /// counterexample's message-sequence chart.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check one scenario exhaustively and print a verdict per property.
    Check(CheckArgs),
    /// Print the seed's table (acks × min.insync.replicas), every cell decided by the checker.
    Matrix(MatrixArgs),
    /// Which durability settings keep every acknowledged record and stay
    /// writable under the faults you name, cheapest first; given your
    /// config files, what to change in them.
    Advise(AdviseArgs),
    /// Serve stateright's Explorer for one scenario.
    Explore(ExploreArgs),
    /// Which protocol rules each Kafka release has (`--kafka-version` picks one).
    Releases(ReleasesArgs),
    /// Measure the checker's speed on a scenario (default: the canonical one)
    /// against stateright's DFS on Paxos in the same run; JSON on stdout.
    Bench(BenchArgs),
    /// Start a broker cluster on loopback that real Kafka clients can use.
    Cluster(ClusterArgs),
    /// Run one broker process that registers with a controller.
    Broker(BrokerArgs),
    /// Run the controller process (it stands for the KRaft quorum).
    Controller(ControllerArgs),
    /// Check a recorded history (history.jsonl): Jepsen's Kafka anomalies and linearizability.
    Lincheck(LincheckArgs),
    /// Measure `insync lincheck` on generated histories against its speed
    /// and memory targets (BENCHMARKS.md), with stateright's
    /// LinearizabilityTester as the baseline; JSON on stdout.
    BenchLincheck(BenchLincheckArgs),
    /// Run a 3-broker cluster under faults with insync's own clients, then
    /// check the history; exit 0 when linearizable with no anomaly.
    Torture(TortureArgs),
    /// Check brokers' and controller's traces (a --trace-dir, or a torture
    /// run's traces/): every step must be one the specification allows.
    Conform(ConformArgs),
    /// Random walks of a scenario's model turned into fault schedules for
    /// the cluster: the model's and the cluster's verdicts must agree.
    Crosscheck(CrosscheckArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Brokers in the cluster; auto-created topics get one replica on each.
    #[arg(long, default_value_t = 3)]
    pub brokers: usize,
    /// Host to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of broker 0; broker N listens on base-port + N and the
    /// controller on base-port + brokers. 0 picks free ports.
    #[arg(long, default_value_t = 9092)]
    pub base_port: u16,
    #[command(flatten)]
    pub topics: TopicFlags,
    #[command(flatten)]
    pub timing: TimingFlags,
    #[command(flatten)]
    pub balance: BalanceFlags,
    /// Write each node's protocol decisions as JSON lines into this folder
    /// (controller.jsonl, broker-N.jsonl).
    #[arg(long)]
    pub trace_dir: Option<PathBuf>,
    /// Keep each broker's partitions under DIR/broker-N (segment files and
    /// checkpoints) and the controller's metadata log under DIR/controller;
    /// a restart on the same folder resumes. Without it, everything lives
    /// in memory only.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `insync broker`: one broker process, for tests that kill and restart it.
#[derive(Args, Debug, Clone)]
pub struct BrokerArgs {
    /// `node.id`.
    #[arg(long)]
    pub id: u8,
    /// Where this broker listens (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: String,
    /// Where clients and other brokers reach it, if not at --listen
    /// (Kafka's `advertised.listeners`): for a proxy in front of it.
    #[arg(long)]
    pub advertise: Option<String>,
    /// The controller's address.
    #[arg(long)]
    pub controller: String,
    /// ID=HOST:PORT: reach broker ID's replication at this address rather
    /// than where it advertises itself (a separate inter-broker route, as
    /// Kafka's inter-broker listener); repeat for each peer.
    #[arg(long = "peer-route")]
    pub peer_routes: Vec<String>,
    /// `default.replication.factor` for auto-created topics.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: u8,
    #[command(flatten)]
    pub topics: TopicFlags,
    #[command(flatten)]
    pub timing: TimingFlags,
    /// Write the protocol decisions as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Keep the partitions here (segment files and checkpoints); a restart
    /// recovers them. Without it, logs live in memory only.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// `insync lincheck`: exit 0 when the history shows no anomaly and every
/// partition is linearizable, 1 when not (or undecided by the deadline), 2
/// when it cannot be read.
#[derive(Args, Debug, Clone)]
pub struct LincheckArgs {
    /// The history: one JSON operation per line.
    pub history: PathBuf,
    /// Give up the linearizability search after this long: "unknown".
    #[arg(long, default_value_t = 10_000)]
    pub deadline_ms: u64,
    /// Also write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// The faults injected during the run (`nemesis.jsonl`: fault, broker,
    /// start_ns, end_ns per line), drawn as bands over the report's plots.
    /// Default: the history's sibling `nemesis.jsonl`, if there is one.
    #[arg(long)]
    pub nemesis: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `insync torture`: exit 0 when the history shows no anomaly and is
/// linearizable, 1 when not, 2 when the run could not be made.
#[derive(Args, Debug, Clone)]
pub struct TortureArgs {
    /// Producer acks: 0, 1, all (or -1).
    #[arg(long, default_value = "all", allow_hyphen_values = true, value_parser = |s: &str| s.parse::<Acks>())]
    pub acks: Acks,
    /// min.insync.replicas of the topic (RF is 3).
    #[arg(long, default_value_t = 2)]
    pub min_isr: u8,
    /// unclean.leader.election.enable.
    #[arg(long)]
    pub unclean: bool,
    /// Eligible Leader Replicas (KIP-966): brokers started with --elr, as
    /// a cluster formatted at 4.1 or later.
    #[arg(long)]
    pub elr: bool,
    /// log.flush.interval.messages (default: never fsync, as Kafka).
    #[arg(long)]
    pub flush_every: Option<u64>,
    /// Faults, comma-separated: kill, pause, partition (cut off from
    /// clients, peers and controller, both ways), split (cut off from
    /// peers and controller only: a zombie leader), shutdown (SIGTERM, a
    /// controlled shutdown, then restart), rebalance (leadership moved to
    /// another live ISR member, no failure), power, stale-kill (pause the
    /// followers' fetching, then kill the leader), stale-power,
    /// controller-kill, restart-all (every node killed and restarted);
    /// none for none.
    #[arg(long, default_value = "kill,pause,partition,stale-kill")]
    pub nemesis: String,
    /// Appends in all.
    #[arg(long, default_value_t = 1000)]
    pub ops: u64,
    /// Concurrent clients, half producers and half consumers.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Appends per second, all producers together.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seed of the fault schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for history.jsonl, nemesis.jsonl, report.json and the
    /// brokers' data, traces and logs.
    #[arg(long, default_value = "insync-torture")]
    pub out: PathBuf,
    /// Stop the workload and faults after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub time_limit_s: u64,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `insync conform`: exit 0 when every traced step is allowed, 1 at the
/// first that is not, 2 when the traces cannot be read.
#[derive(Args, Debug, Clone)]
pub struct ConformArgs {
    /// The folder of trace files (*.jsonl, *.jsonl.N).
    pub traces: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `insync crosscheck`: exit 0 when every walk's verdict and its run's
/// agree, 1 when one does not, 2 when the runs could not be made.
#[derive(Args, Debug, Clone)]
pub struct CrosscheckArgs {
    /// The scenario (models/*.toml, RF=3).
    pub scenario: PathBuf,
    /// Random walks of the model, each run on the cluster.
    #[arg(long, default_value_t = 3)]
    pub walks: usize,
    /// At most this many model steps per walk.
    #[arg(long, default_value_t = 60)]
    pub max_steps: usize,
    /// Skip the checker's counterexample for acked_never_lost (run first
    /// when the scenario has one).
    #[arg(long)]
    pub no_counterexample: bool,
    /// Seed of the walks (and of each run's schedule timing).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Appends in each run.
    #[arg(long, default_value_t = 400)]
    pub ops: u64,
    /// Folder for each run's files (walk-N/).
    #[arg(long, default_value = "insync-crosscheck")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `insync controller`: the controller process, which stands for the
/// KRaft quorum and is assumed not to fail.
#[derive(Args, Debug, Clone)]
pub struct ControllerArgs {
    #[arg(long, default_value = "127.0.0.1:9093")]
    pub listen: String,
    /// `broker.session.timeout.ms`: a broker silent this long is fenced.
    #[arg(long, default_value_t = 9000)]
    pub session_timeout_ms: u64,
    #[command(flatten)]
    pub balance: BalanceFlags,
    /// Write the controller's decisions as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Keep the metadata log here (brokers, topics with their configs,
    /// leaders, epochs, ISR and ELR); a restart resumes from it. Without
    /// it, a restarted controller starts an empty cluster.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Settings of the topics a broker creates, under their Kafka names.
#[derive(Args, Debug, Clone)]
pub struct TopicFlags {
    /// `min.insync.replicas` for new topics.
    #[arg(long = "min-isr", default_value_t = 1)]
    pub min_isr: u8,
    /// `unclean.leader.election.enable` for new topics.
    #[arg(long)]
    pub unclean: bool,
    /// Eligible Leader Replicas (KIP-966) for new topics, with the
    /// last-known-leader election: as a cluster formatted at 4.1 or later
    /// (`eligible.leader.replicas.version=1`).
    #[arg(long)]
    pub elr: bool,
    /// `log.flush.interval.messages`: fsync every N records (default: never).
    #[arg(long)]
    pub flush_every: Option<u64>,
    /// `num.partitions` for auto-created topics.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// `socket.request.max.bytes`.
    #[arg(long, default_value_t = insync::wire::frame::DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
}

/// The controller's preferred-leader balance.
#[derive(Args, Debug, Clone)]
pub struct BalanceFlags {
    /// `auto.leader.rebalance.enable`: move each partition's leadership
    /// back to its preferred replica (the first of its assignment) when
    /// that replica is a live ISR member.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, in milliseconds
    /// (Kafka's default: 300 s).
    #[arg(long, default_value_t = 300_000)]
    pub leader_imbalance_check_interval_ms: u64,
}

impl BalanceFlags {
    /// How often leaders are balanced, if they are.
    pub fn interval(&self) -> Result<Option<std::time::Duration>, String> {
        if self.leader_imbalance_check_interval_ms < 10 {
            return Err(format!(
                "--leader-imbalance-check-interval-ms {}: give at least 10 ms",
                self.leader_imbalance_check_interval_ms
            ));
        }
        Ok(self
            .auto_leader_rebalance_enable
            .then(|| std::time::Duration::from_millis(self.leader_imbalance_check_interval_ms)))
    }
}

/// Kafka's timeouts, in milliseconds.
#[derive(Args, Debug, Clone)]
pub struct TimingFlags {
    /// `broker.session.timeout.ms` (the controller's; in `insync cluster`).
    #[arg(long, default_value_t = 9000)]
    pub session_timeout_ms: u64,
    /// `replica.lag.time.max.ms`.
    #[arg(long, default_value_t = 30000)]
    pub replica_lag_ms: u64,
    /// `replica.fetch.wait.max.ms`.
    #[arg(long, default_value_t = 500)]
    pub fetch_wait_ms: u64,
    /// `group.initial.rebalance.delay.ms`: a new consumer group waits this
    /// long for more members before its first assignment.
    #[arg(long, default_value_t = 3000)]
    pub group_initial_rebalance_delay_ms: u64,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub config: ConfigFlags,
    /// Runs of each; figures are medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Clients in the Paxos baseline (2 gives ~100k states; 3 is much larger).
    #[arg(long, default_value_t = 2)]
    pub paxos_clients: usize,
    /// Threads for both checkers; per-state speed compares best at 1.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchLincheckArgs {
    /// Runs of each; figures are medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Operations in each large history.
    #[arg(long, default_value_t = 100_000)]
    pub ops: usize,
    /// Concurrent clients in the large histories.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Partitions in the many-partition valid history.
    #[arg(long, default_value_t = 4)]
    pub partitions: usize,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// For reports with no table to draw: text for people, JSON for machines.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ConfigFlags {
    /// A scenario file (models/*.toml); flags override it.
    pub scenario: Option<PathBuf>,
    /// Producer acks: 0, 1, all (or -1).
    #[arg(long, allow_hyphen_values = true, value_parser = |s: &str| s.parse::<Acks>())]
    pub acks: Option<Acks>,
    /// min.insync.replicas.
    #[arg(long)]
    pub min_isr: Option<u8>,
    /// replication.factor.
    #[arg(long)]
    pub rf: Option<u8>,
    /// Broker crashes allowed in one run (f).
    #[arg(long)]
    pub crashes: Option<u8>,
    /// process (kill -9) or machine (power loss).
    #[arg(long, value_parser = |s: &str| s.parse::<CrashMode>())]
    pub crash_mode: Option<CrashMode>,
    /// Times a live follower may be dropped from the ISR for lagging.
    #[arg(long)]
    pub lag_removals: Option<u8>,
    /// Controlled shutdowns (SIGTERM, then a clean restart) allowed in one
    /// run: the steps of a rolling restart.
    #[arg(long)]
    pub controlled_shutdowns: Option<u8>,
    /// Preferred-leader elections (auto.leader.rebalance.enable) allowed in
    /// one run: leadership moves with no failure.
    #[arg(long)]
    pub preferred_elections: Option<u8>,
    /// One rolling restart: each broker in turn gets SIGTERM (a controlled
    /// shutdown) and restarts; the next waits until the ISR is whole again.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rolling_restart: Option<bool>,
    /// Network partitions allowed in one run: a live broker cut off from the
    /// controller and the other brokers (clients still reach it), then healed.
    #[arg(long)]
    pub network_partitions: Option<u8>,
    /// unclean.leader.election.enable (`--unclean` alone: true; `--unclean=false`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub unclean: Option<bool>,
    /// Eligible Leader Replicas, KIP-966 (`--elr` alone: true).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub elr: Option<bool>,
    /// enable.idempotence (`--idempotence` alone: true).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub idempotence: Option<bool>,
    /// The 3.7+ rule: the HW does not advance while |ISR| < min.insync.replicas
    /// (`--strict-min-isr` alone: true).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub strict_min_isr: Option<bool>,
    /// The Kafka release whose rules and defaults apply (2.5 to 4.3; default:
    /// the file's, else 4.3), under the settings named by the scenario file
    /// and the other flags.
    #[arg(long, value_parser = |s: &str| s.parse::<insync::core::release::KafkaVersion>())]
    pub kafka_version: Option<insync::core::release::KafkaVersion>,
    /// log.flush.interval.messages.
    #[arg(long)]
    pub flush_every: Option<u64>,
    /// leader-epoch, or high-watermark (the KIP-101 bug).
    #[arg(long, value_parser = |s: &str| parse_truncation(s))]
    pub truncation: Option<insync::core::config::Truncation>,
    /// Records the producer sends.
    #[arg(long)]
    pub records: Option<u8>,
    /// Producer retries per record.
    #[arg(long)]
    pub retries: Option<u8>,
    /// ordered (TCP, default), unordered_nonduplicating or unordered_duplicating.
    #[arg(long, value_parser = |s: &str| s.parse::<NetworkKind>())]
    pub network: Option<NetworkKind>,
    /// Add a consumer reading below the HW.
    #[arg(long)]
    pub consumer: bool,
    /// Your own Kafka configuration: it overrides the scenario file, and
    /// flags override it.
    #[command(flatten)]
    pub files: ConfigFiles,
}

/// A user's own Kafka configuration files.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigFiles {
    /// A broker's server.properties (or `kafka-configs --describe` output,
    /// or one key=value); repeatable.
    #[arg(long, value_name = "FILE|KEY=VALUE")]
    pub broker_config: Vec<String>,
    /// The topic's configuration (a .properties file, `kafka-configs
    /// --entity-type topics --describe` output, or key=value); repeatable.
    #[arg(long, value_name = "FILE|KEY=VALUE")]
    pub topic_config: Vec<String>,
    /// The producer's properties (a file, or key=value); repeatable.
    #[arg(long, value_name = "FILE|KEY=VALUE")]
    pub producer_config: Vec<String>,
}

impl ConfigFiles {
    /// Every argument given, broker's first, then the topic's, then the
    /// producer's.
    pub fn all(&self) -> Vec<(Role, &str)> {
        let mut out = Vec::new();
        for (role, args) in [
            (Role::Broker, &self.broker_config),
            (Role::Topic, &self.topic_config),
            (Role::Producer, &self.producer_config),
        ] {
            out.extend(args.iter().map(|a| (role, a.as_str())));
        }
        out
    }
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigFlags,
    /// Worker threads for the search or --simulate; 0 means one per core.
    /// Any number finds the same states and counterexamples of the same
    /// length; with one, a run repeats the same counterexample exactly.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// No progress on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Walk the model randomly instead of checking it exhaustively: many
    /// seeded walks, each under its own weights (a swarm), on every core.
    #[arg(long)]
    pub simulate: bool,
    /// How long the random walks run (default 10). Without --simulate, a
    /// time limit: the search stops and reports what it has found.
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Without --simulate, a memory budget in GB: the search stops and
    /// reports what it has found once the process holds this much, rather
    /// than be killed for want of memory (default: half the machine's).
    #[arg(long, value_name = "GB", value_parser = parse_gigabytes)]
    pub max_memory: Option<u64>,
    /// With --simulate, or a scenario file checked by walks (`[check]
    /// walks`): stop after this many walks (then --seconds, if given,
    /// still bounds the time). Walk i depends only on --seed and i, so the
    /// result is the same on any number of threads.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub walks: Option<u64>,
    /// Seed of the random walks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the verdicts, and each counterexample as a
    /// message-sequence chart beside its story, to this self-contained
    /// HTML file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Turn the broker symmetry reduction off.
    #[arg(long)]
    pub no_symmetry: bool,
    /// Turn the partial-order reduction off, and keep ignored messages in
    /// flight: the search follows every transition from every state.
    /// Verdicts are the same either way.
    #[arg(long)]
    pub no_por: bool,
    /// Keep the sleep sets but turn off "clients first", the part of the
    /// partial-order reduction that visits fewer states: every state is
    /// then visited, and counterexamples are the shortest.
    #[arg(long)]
    pub no_client_first: bool,
    /// Keep the messages a broker will ignore whenever they arrive (an
    /// answer to an earlier life's or epoch's fetch, a LeaderAndIsr for an
    /// earlier life, ...) in flight until delivered, instead of dropping
    /// them as they are sent: more states, the same verdicts.
    #[arg(long)]
    pub no_drop_ignored: bool,
    /// Turn off "news first", the part of the partial-order reduction
    /// that lets a follower with nothing else to do hear of a new leader
    /// epoch before anything else happens: more states, the same verdicts.
    #[arg(long)]
    pub no_news_first: bool,
}

#[derive(Args, Debug)]
pub struct MatrixArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// One release's table (2.5 to 4.3). Without it: the newest release's,
    /// each cell noting the releases where its verdict differs.
    #[arg(long, value_parser = |s: &str| s.parse::<insync::core::release::KafkaVersion>())]
    pub kafka_version: Option<insync::core::release::KafkaVersion>,
    /// The scenario catalogue.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Scenarios checked at once; 0 means one per core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long)]
    pub quiet: bool,
    /// Also write the table as a self-contained HTML page, each violated
    /// cell linking to its counterexample's message-sequence chart.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AdviseArgs {
    /// The Kafka release (2.5 to 4.3; default: 4.3).
    #[arg(long, value_parser = |s: &str| s.parse::<insync::core::release::KafkaVersion>())]
    pub kafka_version: Option<insync::core::release::KafkaVersion>,
    /// Broker crashes to survive (f).
    #[arg(long, default_value_t = 1)]
    pub tolerate: u8,
    /// process (kill -9: the page cache survives) or machine (power loss).
    #[arg(long, default_value = "machine", value_parser = |s: &str| s.parse::<CrashMode>())]
    pub crash_mode: CrashMode,
    /// The topic's replication factor (default: your files', else 3).
    #[arg(long)]
    pub replicas: Option<u8>,
    /// Lag removals in the durability check (a follower dropped from the
    /// ISR for lagging).
    #[arg(long, default_value_t = 2)]
    pub lag_removals: u8,
    /// Records the producer sends in each check.
    #[arg(long, default_value_t = 2)]
    pub records: u8,
    /// Your own Kafka configuration: the advice marks your row and says
    /// what to change in these files.
    #[command(flatten)]
    pub files: ConfigFiles,
    /// Also write the table as a self-contained HTML page, each rejected
    /// row linking to the chart of its counterexample.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Give up on one check after this many seconds (its row is then
    /// undecided). Default: no limit.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: Option<u64>,
    /// Checks run at once; 0 means one per core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct ReleasesArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub config: ConfigFlags,
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: String,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

impl ConfigFlags {
    /// The scenario file (if any) with the flags applied over it.
    pub fn resolve(&self) -> Result<Scenario, String> {
        self.resolve_reading().map(|(s, _)| s)
    }

    /// The scenario file (if any), the Kafka configuration files over it and
    /// the flags over both, with what was read from the files.
    pub fn resolve_reading(&self) -> Result<(Scenario, Option<Reading>), String> {
        let mut s = match &self.scenario {
            Some(p) => Scenario::load(p)?,
            None => Scenario::from_config(ModelConfig::default()),
        };
        let files = self.files.all();
        let mut from_files = Named::default();
        let reading = if files.is_empty() {
            None
        } else {
            let release = self
                .kafka_version
                .or(s.config.kafka_version)
                .unwrap_or(NEWEST);
            let r = insync::kafka_config::read(&files, release)?;
            r.settings.validate()?;
            r.apply(&mut s.config, &mut from_files);
            Some(r)
        };
        let c = &mut s.config;
        macro_rules! over {
            ($($field:ident).+, $flag:expr) => {
                if let Some(v) = $flag {
                    c.$($field).+ = v;
                }
            };
        }
        over!(kafka.acks, self.acks);
        over!(kafka.min_insync_replicas, self.min_isr);
        over!(kafka.replication_factor, self.rf);
        over!(crashes, self.crashes);
        over!(crash_mode, self.crash_mode);
        over!(lag_removals, self.lag_removals);
        over!(controlled_shutdowns, self.controlled_shutdowns);
        over!(preferred_elections, self.preferred_elections);
        over!(rolling_restart, self.rolling_restart);
        over!(network_partitions, self.network_partitions);
        over!(records, self.records);
        over!(kafka.retries, self.retries);
        over!(network, self.network);
        over!(truncation, self.truncation);
        if self.flush_every.is_some() {
            c.kafka.log_flush_interval_messages = self.flush_every;
        }
        over!(kafka.unclean_leader_election_enable, self.unclean);
        over!(kafka.eligible_leader_replicas_enable, self.elr);
        over!(kafka.enable_idempotence, self.idempotence);
        over!(strict_min_isr, self.strict_min_isr);
        c.consumer |= self.consumer;
        // The release goes last: its defaults fill what neither the file
        // nor a flag names, and the producer's default idempotence depends
        // on the final acks and retries.
        let named = s.named.or(from_files).or(Named {
            acks: self.acks.is_some(),
            enable_idempotence: self.idempotence.is_some(),
            eligible_leader_replicas: self.elr.is_some(),
            strict_min_isr: self.strict_min_isr.is_some(),
            truncation: self.truncation.is_some(),
        });
        let release = self.kafka_version.or(c.kafka_version).unwrap_or(NEWEST);
        c.apply_release(release, named)
            .map_err(|e| format!("--kafka-version: {e}"))?;
        let overridden = self.acks.is_some()
            || self.min_isr.is_some()
            || self.rf.is_some()
            || self.crashes.is_some()
            || self.crash_mode.is_some()
            || self.lag_removals.is_some()
            || self.controlled_shutdowns.is_some()
            || self.preferred_elections.is_some()
            || self.rolling_restart.is_some()
            || self.network_partitions.is_some()
            || self.records.is_some()
            || self.retries.is_some()
            || self.network.is_some()
            || self.truncation.is_some()
            || self.flush_every.is_some()
            || self.unclean.is_some()
            || self.elr.is_some()
            || self.idempotence.is_some()
            || self.strict_min_isr.is_some()
            || self.kafka_version.is_some()
            || self.consumer
            || reading.is_some();
        if overridden {
            // The file's expectations were for its own configuration.
            s.expect = Default::default();
        }
        let origin = match (&self.scenario, &reading) {
            (Some(p), _) => format!("{} with flags", p.display()),
            (None, Some(_)) => "your configuration".to_string(),
            (None, None) => "flags".to_string(),
        };
        if let Err(e) = s.config.validate() {
            // Name the line that set the key the error is about.
            let at = reading.as_ref().and_then(|r| {
                r.read
                    .iter()
                    .rev()
                    .find(|k| e.starts_with(&format!("{}:", k.key)))
                    .map(|k| format!(" ({})", k.at))
            });
            return Err(format!("{origin}: {e}{}", at.unwrap_or_default()));
        }
        Ok((s, reading))
    }
}

/// A positive number of gigabytes (fractions allowed), in bytes.
fn parse_gigabytes(s: &str) -> Result<u64, String> {
    match s.parse::<f64>() {
        Ok(gb) if gb.is_finite() && gb > 0.0 => Ok((gb * 1e9) as u64),
        _ => Err(format!(
            "a positive number of gigabytes, such as 8 or 0.5, not {s:?}"
        )),
    }
}
