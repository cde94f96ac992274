//! Certificates for the agent-channel tests, made per run with the `openssl` tool: a
//! CA, a sensor certificate for 127.0.0.1 and `localhost`, an agent certificate the CA
//! signed (for the hosts `db-1`, `*.fleet.test` and this machine), an unrelated CA with
//! its own agent certificate, and a token file.
#![allow(dead_code)]

use shellsight::transport::tls::{ClientTls, ServerTls};
use std::path::PathBuf;
use std::process::Command;

pub const TOKEN: &str = "a-shared-token-for-channel-tests-42";
/// A new P-256 key, unencrypted.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/// A CA, a sensor certificate for 127.0.0.1 and `localhost`, an agent certificate the CA
/// signed, and a second, unrelated CA with its own agent certificate.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let found = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
        assert!(found, "`openssl` not found: install the `openssl` package (CI installs it)");
        let dir = std::env::temp_dir().join(format!("ss-channel-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki { dir };
        for ca in ["ca", "rogue-ca"] {
            pki.openssl(&format!(
                "req -x509 {NEW_KEY} -keyout {ca}.key -out {ca}.pem -days 2 -subj /CN={ca} \
                 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
            ));
        }
        pki.leaf("ca", "sensor", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
        // The hosts an agent with this certificate may report: a test's own name, a
        // wildcard for simulated fleets, and this machine (for the real agent).
        let this_host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let names = format!("DNS:db-1,DNS:*.fleet.test,DNS:{}", this_host.trim());
        pki.leaf("ca", "agent", &format!("subjectAltName={names}\nextendedKeyUsage=clientAuth"));
        pki.leaf("rogue-ca", "rogue-agent", "extendedKeyUsage=clientAuth");
        std::fs::write(pki.path("token"), format!("{TOKEN}\n")).unwrap();
        pki.private("token");
        pki
    }

    fn leaf(&self, ca: &str, name: &str, ext: &str) {
        std::fs::write(self.path(&format!("{name}.ext")), format!("basicConstraints=CA:FALSE\n{ext}\n"))
            .unwrap();
        self.openssl(&format!("req {NEW_KEY} -keyout {name}.key -out {name}.csr -subj /CN={name}"));
        self.openssl(&format!(
            "x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial -days 2 \
             -out {name}.pem -extfile {name}.ext"
        ));
        self.private(&format!("{name}.key"));
    }

    /// Runs `openssl` in the directory; `args` are split at whitespace (none has a space).
    fn openssl(&self, args: &str) {
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = Command::new("openssl").args(&args).current_dir(&self.dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn private(&self, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.path(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn server(&self, mutual: bool) -> ServerTls {
        let ca = self.path("ca.pem");
        ServerTls::load(&self.path("sensor.pem"), &self.path("sensor.key"), mutual.then_some(ca.as_path()))
            .unwrap()
    }

    /// An agent trusting `ca`, presenting `cert` (`agent`, `rogue-agent`) when given.
    pub fn client(&self, ca: &str, cert: Option<&str>) -> ClientTls {
        let (c, k) = cert.map(|c| (self.path(&format!("{c}.pem")), self.path(&format!("{c}.key")))).unzip();
        ClientTls::load(&self.path(&format!("{ca}.pem")), c.as_deref().zip(k.as_deref()), None).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
