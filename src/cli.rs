//! Command-line definitions only. Each command's raw arguments are resolved into a
//! validated configuration by its module in `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shellsight",
    version,
    about = "Finds reverse shells on a network and says which process opened them",
    after_help = EXAMPLES_MAIN
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr; no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log lines on stderr as text or as JSON objects (one per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read pcap/pcapng captures and report shell sessions in them.
    #[command(after_help = EXAMPLES_REPLAY)]
    Replay(ReplayArgs),
    /// Watch a live interface and report shell sessions as they happen.
    #[command(after_help = EXAMPLES_SENSOR)]
    Sensor(SensorArgs),
    /// Host helper: inventory of sockets and the processes behind them.
    #[command(after_help = EXAMPLES_AGENT)]
    Agent(AgentArgs),
    /// The IP-to-ASN database: import, lookup.
    #[command(after_help = EXAMPLES_GEOIP)]
    Geoip(GeoipArgs),
    /// Site policy files.
    #[command(after_help = EXAMPLES_CONFIG)]
    Config(ConfigArgs),
    /// The host history ("has this host ever done this before"): learn, show, export,
    /// import, forget.
    #[command(after_help = EXAMPLES_BASELINE)]
    Baseline(BaselineArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = EXAMPLES_COMPLETIONS)]
    Completions { shell: Shell },
    /// Print the man page (roff) on stdout, or write one page per command into a folder.
    #[command(after_help = EXAMPLES_MAN)]
    Man {
        /// Write shellsight.1, shellsight-replay.1, … here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line (timestamp, level, message and fields).
    Json,
}

const EXAMPLES_MAIN: &str = "\
Examples:
  shellsight replay capture.pcap                      a table on a terminal, JSON lines otherwise
  shellsight replay capture.pcap --report out.html    also an HTML investigation report
  shellsight sensor --interface eth1 --local-agent    live, with process attribution
  shellsight agent --once                             one socket inventory of this host
  shellsight completions bash > /etc/bash_completion.d/shellsight
  shellsight man | man -l -

Exit status: 0 done (alerts or not), 1 an input or run-time failure, 2 bad usage or an
invalid site policy.";

const EXAMPLES_REPLAY: &str = "\
Examples:
  shellsight replay capture.pcap
  shellsight replay monday.pcapng tuesday.pcapng -o alerts.jsonl --flows flows.jsonl
  shellsight replay capture.pcap --report report.html --report-top 50
  shellsight replay capture.pcap --inventory agent.jsonl --config site.toml
  shellsight replay capture.pcap --baseline hist.redb --threads 4";

const EXAMPLES_SENSOR: &str = "\
Examples:
  shellsight sensor --interface eth1
  shellsight sensor --interface eth1 --bpf 'not port 9200' -o /var/log/shellsight.jsonl
  shellsight sensor --interface eth1 --local-agent --baseline
  shellsight sensor --interface eth1 --agent-listen 0.0.0.0:7441 --token-file /etc/shellsight/token";

const EXAMPLES_AGENT: &str = "\
Examples:
  shellsight agent --once
  shellsight agent --interval 1s --output inventory.jsonl
  shellsight agent --connect sensor.example:7441 --token-file /etc/shellsight/token";

const EXAMPLES_GEOIP: &str = "\
Examples:
  shellsight geoip lookup 73.162.44.21 159.89.210.33 1.1.1.1
  shellsight geoip lookup 203.0.113.7 --config site.toml
  shellsight geoip import asn-ipv4.csv asn-ipv6.csv -o asn.mmdb";

const EXAMPLES_CONFIG: &str = "\
Examples:
  shellsight config check site.toml
  shellsight config check site.toml --at 2027-01-31";

const EXAMPLES_BASELINE: &str = "\
Examples:
  shellsight baseline learn --baseline hist.redb monday.pcap tuesday.pcap
  shellsight baseline show --baseline hist.redb --host 10.20.1.22
  shellsight baseline export --baseline hist.redb > hist.jsonl
  shellsight baseline import --baseline other.redb hist.jsonl
  shellsight baseline forget --baseline hist.redb --older-than 90d";

const EXAMPLES_COMPLETIONS: &str = "\
Examples:
  shellsight completions bash > /etc/bash_completion.d/shellsight
  shellsight completions zsh > \"${fpath[1]}/_shellsight\"
  shellsight completions fish > ~/.config/fish/completions/shellsight.fish";

const EXAMPLES_MAN: &str = "\
Examples:
  shellsight man | man -l -
  shellsight man --dir /usr/local/share/man/man1 && man shellsight-replay";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// ECS-shaped JSON, one object per line.
    Json,
    /// A readable table.
    Table,
}

/// Options shared by `replay` and `sensor`: both drive the same pipeline.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Output format; JSON lines when stdout is not a terminal, a table when it is.
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write alerts here instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Write one ECS record per finished flow to this file.
    #[arg(long)]
    pub flows: Option<PathBuf>,
    /// Site policy (TOML): home nets, roles, admin ranges, exclusions.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// IP-to-ASN MaxMind database instead of the bundled one.
    #[arg(long)]
    pub geoip: Option<PathBuf>,
    /// Also print alerts that an exclusion suppressed (marked as excluded).
    #[arg(long)]
    pub show_excluded: bool,
    /// Join flows with a socket inventory recorded by `agent --output`.
    #[arg(long)]
    pub inventory: Vec<PathBuf>,
    /// Upper bound on concurrently tracked flows; idle flows are evicted first.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_flows: usize,
    /// Worker threads; flows are sharded by a symmetric hash.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// The fleet bus (NATS with JetStream), shared by `sensor` and `agent`.
#[derive(Debug, Args)]
pub struct BusArgs {
    /// NATS server(s) of the fleet bus: nats://HOST:PORT or tls://HOST:PORT, comma-separated.
    #[arg(long, value_name = "URL")]
    pub bus: Option<String>,
    /// Bus credentials: a NATS .creds file, or `key = value` lines (user and password,
    /// token, or nkey seed).
    #[arg(long, value_name = "FILE", requires = "bus")]
    pub bus_creds: Option<PathBuf>,
    /// CA certificate (PEM) to verify the bus servers with; turns TLS on.
    #[arg(long, value_name = "FILE", requires = "bus")]
    pub bus_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a bus that wants mutual TLS (`verify: true`).
    #[arg(long, value_name = "FILE", requires_all = ["bus", "bus_key"])]
    pub bus_cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) of `--bus-cert`.
    #[arg(long, value_name = "FILE", requires = "bus_cert")]
    pub bus_key: Option<PathBuf>,
    /// Replicas of the bus streams when this process creates them (3 on a cluster).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub bus_replicas: usize,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// pcap or pcapng files, read in order as one capture.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Score sessions against this host history (a redb file, created when missing) and
    /// learn from them.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// Also write an HTML investigation report here: summary, every alert in a sortable
    /// table, and timeline charts of the top sessions (one self-contained file).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Sessions that get a timeline chart in the report (the highest tiers and scores).
    #[arg(long, value_name = "N", default_value_t = crate::report_html::DEFAULT_TOP, requires = "report")]
    pub report_top: usize,
    /// Join flows with the host's audit log (auditd, with deploy/auditd/shellsight.rules).
    #[arg(long, value_name = "AUDIT_LOG")]
    pub auditd: Vec<PathBuf>,
    /// Join flows with Sysmon events (Event ID 1 and 3): EVTX, or JSON from Winlogbeat.
    #[arg(long, value_name = "EVENTS")]
    pub sysmon: Vec<PathBuf>,
    #[command(flatten)]
    pub detect: DetectArgs,
}

#[derive(Debug, Args)]
pub struct SensorArgs {
    /// Interface to capture on.
    #[arg(short, long)]
    pub interface: String,
    /// BPF filter expression.
    #[arg(long)]
    pub bpf: Option<String>,
    /// Bytes captured per packet.
    #[arg(long, default_value_t = 262_144)]
    pub snaplen: i32,
    /// Accept agent streams on this address (HOST:PORT).
    #[arg(long)]
    pub agent_listen: Option<String>,
    /// File holding the shared token agents must present.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Certificate chain (PEM) the agent listener presents; turns TLS on.
    #[arg(long, value_name = "FILE", requires_all = ["agent_listen", "agent_tls_key"])]
    pub agent_tls_cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) of `--agent-tls-cert`.
    #[arg(long, value_name = "FILE", requires = "agent_tls_cert")]
    pub agent_tls_key: Option<PathBuf>,
    /// CA (PEM) that agents' certificates must chain to: mutual TLS. An agent without such
    /// a certificate is refused before it may present the token.
    #[arg(long, value_name = "FILE", requires = "agent_tls_cert")]
    pub agent_tls_client_ca: Option<PathBuf>,
    /// With `--agent-tls-client-ca`, accept any host name an agent reports. By default it
    /// must be named on the agent's certificate: a DNS name (`*.` for one label), or the
    /// common name when the certificate has no DNS names. For a fleet sharing one certificate.
    #[arg(long, requires = "agent_tls_client_ca")]
    pub agent_tls_any_host: bool,
    /// Run the host agent in this process too (single-host helper mode).
    #[arg(long)]
    pub local_agent: bool,
    /// Seconds to wait for attribution before emitting an unattributed alert.
    #[arg(long, default_value_t = 3.0)]
    pub attribution_delay: f64,
    /// Stop after this many seconds (for tests and scripted runs).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Keep a host history (`STATE_DIR/baseline.redb`), score against it and learn.
    #[arg(long)]
    pub baseline: bool,
    /// The sensor's data directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/shellsight")]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub bus: BusArgs,
    /// This sensor's name in bus subjects (`shellsight.alerts.NAME`); the host name by
    /// default.
    #[arg(long, value_name = "NAME", requires = "bus")]
    pub bus_name: Option<String>,
    /// After opening the capture, drop to this user (its uid, gid and groups) and keep no
    /// capabilities.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    #[command(flatten)]
    pub detect: DetectArgs,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Print one inventory and exit.
    #[arg(long)]
    pub once: bool,
    /// Refresh interval, e.g. 1s, 500ms.
    #[arg(long, default_value = "1s")]
    pub interval: String,
    /// Append snapshots and deltas (JSON lines) to this file instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Stream to a sensor at HOST:PORT.
    #[arg(long)]
    pub connect: Option<String>,
    /// Shared token presented to the sensor.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// CA (PEM) the sensor's certificate must chain to; turns TLS on for `--connect`.
    #[arg(long, value_name = "FILE", requires = "connect")]
    pub tls_ca: Option<PathBuf>,
    /// This agent's certificate chain (PEM), for a sensor that wants mutual TLS.
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Name the sensor's certificate must carry; the host of `--connect` by default.
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub tls_server_name: Option<String>,
    /// Root of the proc filesystem to read.
    #[arg(long, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Root of the host filesystem (container runtime state).
    #[arg(long, default_value = "/")]
    pub host_root: PathBuf,
    /// Stop after this many seconds (for tests and scripted runs).
    #[arg(long)]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub bus: BusArgs,
    /// Instead of scanning /proc, follow this audit log (like `tail -F`) and send what it
    /// tells about processes and their connections.
    #[arg(long, value_name = "AUDIT_LOG", conflicts_with = "once")]
    pub auditd: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GeoipArgs {
    #[command(subcommand)]
    pub command: GeoipCommand,
}

#[derive(Debug, Subcommand)]
pub enum GeoipCommand {
    /// Build an ASN MaxMind DB from ip-location-db CSV files (ip_start,ip_end,asn,org).
    #[command(
        after_help = "Examples:\n  shellsight geoip import asn-ipv4.csv asn-ipv6.csv -o asn.mmdb\n  SOURCE_DATE_EPOCH=1793600000 shellsight geoip import asn.csv -o asn.mmdb"
    )]
    Import {
        /// CSV files (IPv4 and/or IPv6).
        #[arg(required = true)]
        csv: Vec<PathBuf>,
        /// Output .mmdb path.
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Build time written into the metadata (seconds since 1970). Default:
        /// $SOURCE_DATE_EPOCH, else the newest modification time of the CSV files.
        #[arg(long)]
        build_epoch: Option<u64>,
    },
    /// Print ASN, organisation and class for addresses.
    #[command(
        after_help = "Examples:\n  shellsight geoip lookup 73.162.44.21 1.1.1.1\n  shellsight geoip lookup 203.0.113.7 --geoip GeoLite2-ASN.mmdb --config site.toml"
    )]
    Lookup {
        #[arg(required = true)]
        ips: Vec<String>,
        /// Database instead of the bundled one.
        #[arg(long)]
        geoip: Option<PathBuf>,
        /// Site policy whose ASN class overrides apply.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a site policy file; errors name the file, line and field.
    #[command(
        after_help = "Examples:\n  shellsight config check site.toml\n  shellsight config check site.toml --at 2027-01-31"
    )]
    Check {
        file: PathBuf,
        /// Judge exclusion expiry at the end of this day (YYYY-MM-DD, site time zone)
        /// instead of now.
        #[arg(long, value_name = "DATE")]
        at: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub command: BaselineCommand,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Build or extend the history from captures, recording without alerting.
    #[command(
        after_help = "Examples:\n  shellsight baseline learn --baseline hist.redb monday.pcap tuesday.pcap\n  shellsight baseline learn --baseline hist.redb week.pcap --inventory agent.jsonl --commit-every 30s"
    )]
    Learn {
        #[arg(long, value_name = "PATH")]
        baseline: PathBuf,
        /// pcap or pcapng files, read in order as one capture.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Site policy (home networks, ASN class overrides).
        #[arg(long)]
        config: Option<PathBuf>,
        /// IP-to-ASN MaxMind database instead of the bundled one.
        #[arg(long)]
        geoip: Option<PathBuf>,
        /// Socket inventories (`agent --output`), to learn process identities too.
        #[arg(long)]
        inventory: Vec<PathBuf>,
        /// Write what was learned every this much packet time (e.g. 30s, 5m).
        #[arg(long, default_value = "5m")]
        commit_every: String,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Print the history: every host, or one.
    #[command(
        after_help = "Examples:\n  shellsight baseline show --baseline hist.redb\n  shellsight baseline show --baseline hist.redb --host 10.20.1.22 --format json"
    )]
    Show {
        #[arg(long, value_name = "PATH")]
        baseline: PathBuf,
        #[arg(long)]
        host: Option<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Write the history as JSON lines (one host per line).
    #[command(
        after_help = "Examples:\n  shellsight baseline export --baseline hist.redb > hist.jsonl\n  shellsight baseline export --baseline hist.redb -o hist.jsonl"
    )]
    Export {
        #[arg(long, value_name = "PATH")]
        baseline: PathBuf,
        /// Write here instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Add JSON lines from `baseline export` to a history (created when missing).
    #[command(after_help = "Examples:\n  shellsight baseline import --baseline other.redb hist.jsonl")]
    Import {
        #[arg(long, value_name = "PATH")]
        baseline: PathBuf,
        file: PathBuf,
    },
    /// Drop one host, or everything not seen for a while (relative to the newest record).
    #[command(
        after_help = "Examples:\n  shellsight baseline forget --baseline hist.redb --host 10.20.1.22\n  shellsight baseline forget --baseline hist.redb --older-than 90d"
    )]
    Forget {
        #[arg(long, value_name = "PATH")]
        baseline: PathBuf,
        #[arg(long, conflicts_with = "older_than", required_unless_present = "older_than")]
        host: Option<String>,
        /// e.g. 90d, 12h.
        #[arg(long)]
        older_than: Option<String>,
    },
}
