//! Why a session scored what it did: one typed value per reason, written out as the short
//! strings alerts carry (`reverse-interactive`, `protocol-mismatch:443`, `role:server`).

use crate::config::Role;
use crate::names::services::NameService;
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    // Turn-taking and what comes back (network).
    ReverseInteractive,
    Interactive,
    CommandOutput,
    KeystrokeEcho,
    /// One or two exchanges in which the far end spoke first and the host's answers
    /// outweighed them, at machine speed after a person's pause.
    ReverseExchange,
    // What a shell prints.
    NoJobControl,
    NoTty,
    UidOutput,
    UidRoot,
    CmdBanner,
    PowershellBanner,
    PowershellPrompt,
    ShellPrompt,
    // What its operator types.
    ShellCommands,
    ReconCommands,
    PtyUpgrade,
    ShellSpawn,
    ReverseCommands,
    /// A single typed recon command from the side that accepted the connection, answered
    /// at once.
    ReverseRecon,
    // Stagers.
    StagedExecutable,
    LengthPrefixedStage,
    // Inside encryption.
    Encrypted(&'static str),
    // Ports.
    ProtocolMismatch(u16),
    HighPort,
    BindShell,
    ServicePort(&'static str),
    // The TLS handshake and the remote end's name.
    TlsNoSni,
    TlsBrowserLike,
    TlsSelfSigned,
    TlsLibraryClient,
    DirectIp,
    NameService(NameService),
    // Where the session sits.
    ResidentialAsn,
    MobileAsn,
    HostingAsn,
    CloudServicePort,
    Role(Role),
    AdminRange,
    OffHours,
    // The process behind the socket.
    ShellProcess(String),
    ExposedServiceParent(String),
    StdioSocket,
    StdioPtyOfSocket,
    ServerOutboundShell,
    SuspiciousCommandLine,
    TrustedAutomation(String),
    /// A deleted binary, or one run from /tmp or /dev/shm.
    SuspiciousImage(String),
    /// A shell, an interpreter or a dropped binary behind a series of check-ins.
    PollerProcess(String),
    // A series of check-ins.
    /// Regular check-ins: the median interval (seconds), jitter (percent), check-ins.
    Beacon {
        interval_s: u32,
        jitter_pct: u8,
        checkins: u32,
    },
    LongPoll,
    OperatorTasks(u32),
    CheckinsSpedUp,
    // The host's history.
    PeerDormant(u32),
    SeenBefore(u64),
    FirstSeen(String),
    InternalOnlyHost,
    // Command injection: a request carrying a callback one-liner, and the callback.
    InjectionPayload,
    InjectionCallback,
    // Webshells: a request's command and its output in that request's answer.
    WebshellOutput(&'static str),
    WebshellCommands(u16),
    WebshellFamily(&'static str),
    // Remote execution over SMB: services, tasks, executables, exec pipes.
    SmbServiceCreated(String),
    SmbServiceRequested(String),
    SmbServiceCreateFailed(String),
    SmbServiceChanged,
    SmbServiceStarted,
    SmbServiceCommand,
    SmbTaskRegistered,
    SmbExecutableUpload,
    SmbExecPipe(String),
    SmbPipeCommands,
    SmbPipeInteractive,
    SmbEncryptedInteractive,
    SmbEncryptedUpload,
    /// The client driving a webshell or an exec pipe is outside the home networks.
    FromOutsideHome,
    // Bookkeeping the report adds.
    DirectionInferred,
    ExclusionExpired(usize),
}

impl Reason {
    /// The reason's name without its argument (`protocol-mismatch` for
    /// `protocol-mismatch:443`).
    pub fn kind(&self) -> &'static str {
        use Reason::*;
        match self {
            ReverseInteractive => "reverse-interactive",
            Interactive => "interactive",
            CommandOutput => "command-output",
            KeystrokeEcho => "keystroke-echo",
            ReverseExchange => "reverse-exchange",
            NoJobControl => "no-job-control",
            NoTty => "no-tty",
            UidOutput => "uid-output",
            UidRoot => "uid-root",
            CmdBanner => "cmd-banner",
            PowershellBanner => "powershell-banner",
            PowershellPrompt => "powershell-prompt",
            ShellPrompt => "shell-prompt",
            ShellCommands => "shell-commands",
            ReconCommands => "recon-commands",
            PtyUpgrade => "pty-upgrade",
            ShellSpawn => "shell-spawn",
            ReverseCommands => "reverse-commands",
            ReverseRecon => "reverse-recon",
            StagedExecutable => "staged-executable",
            LengthPrefixedStage => "length-prefixed-stage",
            Encrypted(_) => "encrypted",
            ProtocolMismatch(_) => "protocol-mismatch",
            HighPort => "high-port",
            BindShell => "bind-shell",
            ServicePort(_) => "service-port",
            TlsNoSni => "tls-no-sni",
            TlsBrowserLike => "tls-browser-like",
            TlsSelfSigned => "tls-self-signed",
            TlsLibraryClient => "tls-library-client",
            DirectIp => "direct-ip",
            NameService(s) => match s.kind {
                crate::names::services::ServiceKind::DynamicDns => "ddns",
                crate::names::services::ServiceKind::Tunnel => "tunnel-service",
            },
            ResidentialAsn => "residential-asn",
            MobileAsn => "mobile-asn",
            HostingAsn => "hosting-asn",
            CloudServicePort => "cloud-service-port",
            Role(_) => "role",
            AdminRange => "admin-range",
            OffHours => "off-hours",
            ShellProcess(_) => "shell-process",
            ExposedServiceParent(_) => "exposed-service-parent",
            StdioSocket => "stdio-socket",
            StdioPtyOfSocket => "stdio-pty-of-socket",
            ServerOutboundShell => "server-outbound-shell",
            SuspiciousCommandLine => "suspicious-command-line",
            TrustedAutomation(_) => "trusted-automation",
            SuspiciousImage(_) => "suspicious-image",
            PollerProcess(_) => "poller-process",
            Beacon { .. } => "beacon",
            LongPoll => "long-poll",
            OperatorTasks(_) => "operator-tasks",
            CheckinsSpedUp => "checkins-sped-up",
            PeerDormant(_) => "peer-dormant",
            SeenBefore(_) => "seen-before",
            FirstSeen(_) => "first-seen",
            InternalOnlyHost => "internal-only-host",
            InjectionPayload => "injection-payload",
            InjectionCallback => "injection-callback",
            WebshellOutput(_) => "webshell-output",
            WebshellCommands(_) => "webshell-commands",
            WebshellFamily(_) => "webshell-family",
            SmbServiceCreated(_) => "smb-service-created",
            SmbServiceRequested(_) => "smb-service-requested",
            SmbServiceCreateFailed(_) => "smb-service-create-failed",
            SmbServiceChanged => "smb-service-changed",
            SmbServiceStarted => "smb-service-started",
            SmbServiceCommand => "smb-service-command",
            SmbTaskRegistered => "smb-task-registered",
            SmbExecutableUpload => "smb-executable-upload",
            SmbExecPipe(_) => "smb-exec-pipe",
            SmbPipeCommands => "smb-pipe-commands",
            SmbPipeInteractive => "smb-pipe-interactive",
            SmbEncryptedInteractive => "smb-encrypted-interactive",
            SmbEncryptedUpload => "smb-encrypted-upload",
            FromOutsideHome => "from-outside-home",
            DirectionInferred => "direction-inferred",
            ExclusionExpired(_) => "exclusion-expired",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Reason::*;
        let kind = self.kind();
        match self {
            Encrypted(what) => write!(f, "{kind}:{what}"),
            ProtocolMismatch(port) => write!(f, "{kind}:{port}"),
            ServicePort(name) => write!(f, "{kind}:{name}"),
            NameService(s) => f.write_str(&s.reason()),
            Role(r) => write!(f, "{kind}:{r}"),
            Beacon { interval_s, jitter_pct, checkins } => {
                write!(f, "{kind}:interval={interval_s}s,jitter={jitter_pct}%,n={checkins}")
            }
            OperatorTasks(n) => write!(f, "{kind}:{n}"),
            ShellProcess(name)
            | ExposedServiceParent(name)
            | TrustedAutomation(name)
            | FirstSeen(name)
            | SuspiciousImage(name)
            | PollerProcess(name) => {
                write!(f, "{kind}:{name}")
            }
            PeerDormant(days) => write!(f, "{kind}:{days}d"),
            WebshellOutput(what) | WebshellFamily(what) => write!(f, "{kind}:{what}"),
            WebshellCommands(n) => write!(f, "{kind}:{n}"),
            SmbServiceCreated(name)
            | SmbServiceRequested(name)
            | SmbServiceCreateFailed(name)
            | SmbExecPipe(name) => {
                write!(f, "{kind}:{name}")
            }
            SeenBefore(n) => write!(f, "{kind}:{n}-sessions"),
            ExclusionExpired(index) => write!(f, "{kind}:{index}"),
            _ => f.write_str(kind),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The reasons as the strings alerts carry.
pub fn strings(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(Reason::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_before() {
        assert_eq!(Reason::ReverseInteractive.to_string(), "reverse-interactive");
        assert_eq!(Reason::ProtocolMismatch(443).to_string(), "protocol-mismatch:443");
        assert_eq!(Reason::Encrypted("tls").to_string(), "encrypted:tls");
        assert_eq!(Reason::Role(Role::Server).to_string(), "role:server");
        assert_eq!(Reason::SeenBefore(47).to_string(), "seen-before:47-sessions");
        assert_eq!(Reason::PeerDormant(90).to_string(), "peer-dormant:90d");
        assert_eq!(Reason::ExposedServiceParent("nginx".into()).to_string(), "exposed-service-parent:nginx");
        assert_eq!(serde_json::to_string(&Reason::HighPort).unwrap(), "\"high-port\"");
    }
}
