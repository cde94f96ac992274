//! Process-name lists for the process-aware tiers: shells, interpreters, exposed
//! services (whose shell children are the loudest signal) and trusted automation.
//! Defaults follow Falco's `falco_rules.yaml` lists and Elastic's web-server parent
//! lists (see shared/research/anchors.md, "Who spawned it").
//!
//! Names are compared after dropping any directory (`/usr/bin/python3` → `python3`), a
//! `.exe` suffix and a `: title` suffix (`php-fpm: pool www`), ASCII case-insensitively.
//! An entry ending in `*` is a prefix (`php-fpm*` holds `php-fpm8.2`). A name that is not
//! listed is retried without a trailing version (`python3.11` → `python`, `ksh93` → `ksh`,
//! `php-fpm8.2` → `php-fpm`) and without a dotted suffix (`nc.openbsd` → `nc`).
//! Names are easy to fake: trusted automation should lower a tier only alongside other
//! evidence (destination, command line), never clear it on its own.

use std::collections::HashSet;

pub const DEFAULT_SHELLS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "csh",
    "tcsh",
    "ash",
    "fish",
    "busybox",
    // Windows shells, and the living-off-the-land binaries that run attacker script the
    // way a shell does (Sigma's web-server-child rules name the same set).
    "cmd",
    "powershell",
    "pwsh",
    "wscript",
    "cscript",
    "mshta",
    "rundll32",
    "regsvr32",
];

pub const DEFAULT_INTERPRETERS: &[&str] = &[
    "python", "python2", "python3", "perl", "php", "ruby", "node", "lua", "tclsh", "awk", "gawk", "socat",
    "nc", "ncat", "netcat", "openssl", "telnet", "java", "pwsh",
];

pub const DEFAULT_EXPOSED_SERVICES: &[&str] = &[
    // Web servers and application servers (Falco http_server_binaries; Elastic adds the rest).
    "nginx",
    "apache",
    "apache2",
    "httpd",
    "lighttpd",
    "caddy",
    "php-fpm*",
    "w3wp",
    "tomcat",
    "uwsgi",
    "gunicorn",
    "puma",
    "node",
    // Databases and stores (Falco db_server_binaries, nosql_server_binaries).
    "postgres",
    "mysqld",
    "mariadbd",
    "sqlplus",
    "redis-server",
    "mongod",
    "couchdb",
    "memcached",
    "rabbitmq-server",
    "sqlservr",
    // Exchange's own workers (MSExchangeTransport, MSExchangeMailboxAssistants …) and
    // unified messaging; its web front ends are w3wp.
    "msexchange*",
    "umworkerprocess",
    "umservice",
    // CI and document converters that handle untrusted input.
    "jenkins",
    "soffice.bin",
    "libreoffice",
    "unoconv",
    "pandoc",
    "convert",
    "gs",
];

/// Java is an exposed service only when its command line names one of these (Tomcat,
/// Jetty, WildFly/JBoss, WebLogic, Jenkins, ZooKeeper, Kafka, Elasticsearch).
pub const DEFAULT_JAVA_SERVICES: &[&str] = &[
    "tomcat",
    "catalina",
    "jetty",
    "wildfly",
    "jboss",
    "weblogic",
    "jenkins",
    "zookeeper",
    "kafka",
    "elasticsearch",
];

pub const DEFAULT_TRUSTED_AUTOMATION: &[&str] = &[
    "salt-call",
    "fail2ban-server",
    "ansible",
    "rsync",
    "borg",
    "restic",
    "gitlab-runner",
    "actions-runner",
    "Runner.Worker",
    "jenkins-agent",
];

/// A list of process names with trailing-`*` prefix globs.
#[derive(Debug, Clone, Default)]
pub struct NameList {
    entries: Vec<String>,
    exact: HashSet<String>,
    prefixes: Vec<String>,
}

impl NameList {
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> NameList {
        let mut list = NameList::default();
        list.extend(names);
        list
    }

    pub fn extend<S: AsRef<str>>(&mut self, names: impl IntoIterator<Item = S>) {
        for name in names {
            let name = name.as_ref().trim();
            if self.entries.iter().any(|e| e == name) {
                continue;
            }
            self.entries.push(name.to_string());
            let lower = name.to_ascii_lowercase();
            match lower.strip_suffix('*') {
                Some(prefix) => self.prefixes.push(prefix.to_string()),
                None => {
                    self.exact.insert(lower);
                }
            }
        }
    }

    /// The entries as written.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a process name (or path) matches an entry; see the module docs.
    pub fn matches(&self, name: &str) -> bool {
        let base = base_name(name);
        if base.is_empty() {
            return false;
        }
        candidates(&base)
            .iter()
            .any(|c| self.exact.contains(c.as_str()) || self.prefixes.iter().any(|p| c.starts_with(p)))
    }
}

/// Checks one list entry as written in a config file.
pub fn validate_entry(entry: &str) -> Result<(), String> {
    let body = entry.strip_suffix('*').unwrap_or(entry);
    if body.trim().is_empty() {
        return Err(format!("{entry:?} is empty; a name or a prefix followed by `*` is needed"));
    }
    if body.contains('*') {
        return Err(format!("{entry:?}: `*` is allowed only at the end, as a prefix glob"));
    }
    if body.contains('/') || body.contains('\\') {
        return Err(format!(
            "{entry:?} is a path; list the program's name (the path is stripped before comparing)"
        ));
    }
    if body != body.trim() {
        return Err(format!("{entry:?} has leading or trailing spaces"));
    }
    Ok(())
}

/// Lower-case name without directory, `.exe` or a `: title` suffix.
fn base_name(name: &str) -> String {
    let name = name.trim();
    let name = name.split_once(": ").map_or(name, |(a, _)| a);
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut lower = name.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix(".exe") {
        lower = stem.to_string();
    }
    lower
}

/// The name, then without a trailing version, then without a dotted suffix.
fn candidates(base: &str) -> Vec<String> {
    let mut out = vec![base.to_string()];
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    let unversioned = strip_version(base);
    push(unversioned);
    if let Some((stem, _)) = base.split_once('.') {
        push(stem);
        push(strip_version(stem));
    }
    out
}

/// `python3.11` → `python`, `php-fpm8.2` → `php-fpm`, `node-18` → `node`; a name that
/// does not end in a digit is returned unchanged.
fn strip_version(s: &str) -> &str {
    if !s.ends_with(|c: char| c.is_ascii_digit()) {
        return s;
    }
    let t = s.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let t = t.strip_suffix(['-', '_']).unwrap_or(t);
    if t.is_empty() {
        s
    } else {
        t
    }
}

/// The four lists the process-aware tiers use.
#[derive(Debug, Clone)]
pub struct ProcessLists {
    pub shells: NameList,
    pub interpreters: NameList,
    pub exposed_services: NameList,
    /// Command-line markers that make `java` an exposed service.
    pub java_services: Vec<String>,
    pub trusted_automation: NameList,
}

impl Default for ProcessLists {
    fn default() -> Self {
        ProcessLists {
            shells: NameList::new(DEFAULT_SHELLS),
            interpreters: NameList::new(DEFAULT_INTERPRETERS),
            exposed_services: NameList::new(DEFAULT_EXPOSED_SERVICES),
            java_services: DEFAULT_JAVA_SERVICES.iter().map(|s| s.to_string()).collect(),
            trusted_automation: NameList::new(DEFAULT_TRUSTED_AUTOMATION),
        }
    }
}

impl ProcessLists {
    pub fn is_shell(&self, name: &str) -> bool {
        self.shells.matches(name)
    }

    pub fn is_interpreter(&self, name: &str) -> bool {
        self.interpreters.matches(name)
    }

    /// By name alone. Use [`ProcessLists::is_exposed_process`] when the command line is
    /// known, so that Java application servers count too.
    pub fn is_exposed_service(&self, name: &str) -> bool {
        self.exposed_services.matches(name)
    }

    /// By name, or `java` whose command line names a server from `java_services`.
    pub fn is_exposed_process(&self, name: &str, command_line: Option<&str>) -> bool {
        if self.is_exposed_service(name) {
            return true;
        }
        let Some(cmd) = command_line else { return false };
        if !candidates(&base_name(name)).iter().any(|c| c == "java") {
            return false;
        }
        let cmd = cmd.to_ascii_lowercase();
        self.java_services.iter().any(|m| cmd.contains(&m.to_ascii_lowercase()))
    }

    pub fn is_trusted_automation(&self, name: &str) -> bool {
        self.trusted_automation.matches(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_classify_common_names() {
        let p = ProcessLists::default();
        for s in ["bash", "/bin/sh", "/usr/bin/zsh", "BASH", "ksh93", "busybox"] {
            assert!(p.is_shell(s), "{s}");
        }
        for s in ["sshd", "bashful", "shx", "", "/"] {
            assert!(!p.is_shell(s), "{s:?}");
        }
        for s in [
            "python3.11",
            "/usr/bin/python3",
            "python2.7",
            "perl5.36",
            "php8.2",
            "ruby3.1",
            "nc.openbsd",
            "ncat",
        ] {
            assert!(p.is_interpreter(s), "{s}");
        }
        assert!(!p.is_interpreter("pythonista"));
        assert!(!p.is_interpreter("ncdu"));
        for s in [
            "php-fpm8.2",
            "php-fpm",
            "php-fpm: pool www",
            "/usr/sbin/nginx",
            "postgres",
            "soffice.bin",
            "httpd",
        ] {
            assert!(p.is_exposed_service(s), "{s}");
        }
        assert!(!p.is_exposed_service("sshd"));
        assert!(!p.is_exposed_service("java"), "java needs its command line");
        assert!(p.is_exposed_process(
            "java",
            Some("java -Dcatalina.base=/opt/tomcat org.apache.catalina.startup.Bootstrap")
        ));
        assert!(!p.is_exposed_process("java", Some("java -jar myapp.jar")));
        assert!(!p.is_exposed_process("java", None));
        assert!(!p.is_exposed_process("bash", Some("bash -c tomcat")), "markers apply to java only");
        for s in ["salt-call", "Runner.Worker", "runner.worker", "/usr/bin/rsync", "restic"] {
            assert!(p.is_trusted_automation(s), "{s}");
        }
        assert!(!p.is_trusted_automation("bash"));
    }

    #[test]
    fn windows_shells_and_services_by_path_case_and_exe() {
        let p = ProcessLists::default();
        for s in [
            r"C:\Windows\System32\cmd.exe",
            "CMD.EXE",
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "pwsh.exe",
            "wscript.exe",
            "CScript.exe",
            "mshta.exe",
            "rundll32.exe",
            "regsvr32.exe",
        ] {
            assert!(p.is_shell(s), "{s}");
        }
        for s in [
            r"c:\windows\system32\inetsrv\w3wp.exe",
            "W3WP.EXE",
            "sqlservr.exe",
            "Tomcat9.exe",
            "httpd.exe",
            "MSExchangeTransport.exe",
            "UMWorkerProcess.exe",
        ] {
            assert!(p.is_exposed_service(s), "{s}");
        }
        assert!(p.is_exposed_process(
            r"C:\Program Files\Java\bin\java.exe",
            Some("java.exe -Dcatalina.home=C:\\tomcat org.apache.catalina.startup.Bootstrap")
        ));
        for s in ["explorer.exe", "svchost.exe", "cmdkey.exe", "powershell_ise2"] {
            assert!(!p.is_shell(s) && !p.is_exposed_service(s), "{s}");
        }
    }

    #[test]
    fn prefix_globs_and_versions() {
        let l = NameList::new(["php-fpm*", "node"]);
        assert!(l.matches("php-fpm"));
        assert!(l.matches("php-fpm8.2"));
        assert!(!l.matches("php"));
        assert!(l.matches("node18"));
        assert!(l.matches("node-20"));
        assert!(!l.matches("nodejs-helper"));
        assert_eq!(strip_version("python3.11"), "python");
        assert_eq!(strip_version("bash"), "bash");
        assert_eq!(strip_version("42"), "42");
    }

    #[test]
    fn entries_are_validated() {
        assert!(validate_entry("php-fpm*").is_ok());
        assert!(validate_entry("bash").is_ok());
        assert!(validate_entry("").is_err());
        assert!(validate_entry("*").is_err());
        assert!(validate_entry("ph*p").is_err());
        assert!(validate_entry("/bin/bash").is_err());
        assert!(validate_entry(" bash").is_err());
    }
}
