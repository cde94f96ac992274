//! Command-line definitions only. Each command's raw arguments are resolved into a
//! validated configuration by its module in `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shellsight",
    version,
    about = "Finds reverse shells on a network and says which process opened them"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr; no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read pcap/pcapng captures and report shell sessions in them.
    Replay(ReplayArgs),
    /// Watch a live interface and report shell sessions as they happen.
    Sensor(SensorArgs),
    /// Host helper: inventory of sockets and the processes behind them.
    Agent(AgentArgs),
    /// The IP-to-ASN database: import, lookup.
    Geoip(GeoipArgs),
    /// Site policy files.
    Config(ConfigArgs),
}

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

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// pcap or pcapng files, read in order as one capture.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
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
    /// Run the host agent in this process too (single-host helper mode).
    #[arg(long)]
    pub local_agent: bool,
    /// Seconds to wait for attribution before emitting an unattributed alert.
    #[arg(long, default_value_t = 3.0)]
    pub attribution_delay: f64,
    /// Stop after this many seconds (for tests and scripted runs).
    #[arg(long)]
    pub duration: Option<f64>,
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
    /// Root of the proc filesystem to read.
    #[arg(long, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Root of the host filesystem (container runtime state).
    #[arg(long, default_value = "/")]
    pub host_root: PathBuf,
    /// Stop after this many seconds (for tests and scripted runs).
    #[arg(long)]
    pub duration: Option<f64>,
}

#[derive(Debug, Args)]
pub struct GeoipArgs {
    #[command(subcommand)]
    pub command: GeoipCommand,
}

#[derive(Debug, Subcommand)]
pub enum GeoipCommand {
    /// Build an ASN MaxMind DB from ip-location-db CSV files (ip_start,ip_end,asn,org).
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
    Check {
        file: PathBuf,
        /// Judge exclusion expiry at the end of this day (YYYY-MM-DD, site time zone)
        /// instead of now.
        #[arg(long, value_name = "DATE")]
        at: Option<String>,
    },
}
