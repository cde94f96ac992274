//! The redb file behind the history: one row per host (the record as JSON), and a
//! metadata table holding the format version. Every write is one transaction over a
//! batch of hosts; redb commits atomically, so a process killed mid-write leaves the file
//! as of its last commit.
//!
//! redb locks the file while it is open: a second process gets a clear "in use" error
//! instead of reading a file being written.

use super::model::{History, HostRecord, Limits};
use crate::error::{Error, Result};
use redb::{Database, DatabaseError, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const HOSTS: TableDefinition<&str, &[u8]> = TableDefinition::new("hosts");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const FORMAT_KEY: &str = "format_version";
/// The layout this build reads and writes. Bump it when `HostRecord` changes shape.
pub const FORMAT_VERSION: u64 = 1;

pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens the store, creating it (and its directory's file) when it does not exist.
    pub fn open_or_create(path: &Path) -> Result<Store> {
        let db = Database::create(path).map_err(|e| open_error(path, e))?;
        let store = Store { db, path: path.to_path_buf() };
        store.check_version(true)?;
        Ok(store)
    }

    /// Opens an existing store (show, export, forget).
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Error::input(format!("{}: no such baseline store", path.display())));
        }
        Self::open_or_create(path)
    }

    fn check_version(&self, create: bool) -> Result<()> {
        let read = self.db.begin_read().map_err(|e| self.fail(e))?;
        let version = match read.open_table(META) {
            Ok(t) => t.get(FORMAT_KEY).map_err(|e| self.fail(e))?.map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.fail(e)),
        };
        let has_hosts = match read.open_table(HOSTS) {
            Ok(t) => !t.is_empty().map_err(|e| self.fail(e))?,
            Err(redb::TableError::TableDoesNotExist(_)) => false,
            Err(e) => return Err(self.fail(e)),
        };
        drop(read);
        match version {
            Some(FORMAT_VERSION) => Ok(()),
            Some(v) => Err(Error::input(format!(
                "{}: baseline store format version {v}; this shellsight reads version {FORMAT_VERSION} \
                 (export it with the shellsight that wrote it, then `baseline import` it into a new store)",
                self.path.display()
            ))),
            None if has_hosts => Err(Error::input(format!(
                "{}: baseline store without a format version (version 0, from before versioning); \
                 this shellsight reads version {FORMAT_VERSION}",
                self.path.display()
            ))),
            None if create => {
                let w = self.db.begin_write().map_err(|e| self.fail(e))?;
                {
                    let mut meta = w.open_table(META).map_err(|e| self.fail(e))?;
                    meta.insert(FORMAT_KEY, FORMAT_VERSION).map_err(|e| self.fail(e))?;
                    w.open_table(HOSTS).map_err(|e| self.fail(e))?;
                }
                w.commit().map_err(|e| self.fail(e))
            }
            None => Ok(()),
        }
    }

    /// Reads every host. A row that does not parse fails the load, naming the host.
    pub fn load(&self, limits: Limits) -> Result<History> {
        let mut history = History::with_limits(limits);
        let read = self.db.begin_read().map_err(|e| self.fail(e))?;
        let table = match read.open_table(HOSTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(history),
            Err(e) => return Err(self.fail(e)),
        };
        for row in table.iter().map_err(|e| self.fail(e))? {
            let (k, v) = row.map_err(|e| self.fail(e))?;
            let record: HostRecord = serde_json::from_slice(v.value()).map_err(|e| {
                Error::input(format!(
                    "{}: host {} has an unreadable record: {e}",
                    self.path.display(),
                    k.value()
                ))
            })?;
            history.insert(record);
        }
        Ok(history)
    }

    /// Writes the given hosts in one transaction: their record from `history`, or a
    /// deletion when the history no longer has them.
    pub fn write(&self, history: &History, hosts: &[IpAddr]) -> Result<()> {
        if hosts.is_empty() {
            return Ok(());
        }
        let w = self.db.begin_write().map_err(|e| self.fail(e))?;
        {
            let mut table = w.open_table(HOSTS).map_err(|e| self.fail(e))?;
            for ip in hosts {
                let key = ip.to_string();
                match history.host(*ip) {
                    Some(r) => {
                        let bytes = serde_json::to_vec(r).map_err(|e| Error::runtime(e.to_string()))?;
                        table.insert(key.as_str(), bytes.as_slice()).map_err(|e| self.fail(e))?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(|e| self.fail(e))?;
                    }
                }
            }
        }
        w.commit().map_err(|e| self.fail(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: impl Into<redb::Error>) -> Error {
        Error::runtime(format!("{}: baseline store: {}", self.path.display(), e.into()))
    }
}

fn open_error(path: &Path, e: DatabaseError) -> Error {
    let p = path.display();
    match e {
        DatabaseError::DatabaseAlreadyOpen => Error::runtime(format!(
            "{p}: baseline store in use by another shellsight process (a sensor, replay or learn); \
             stop it, or read a copy of the file"
        )),
        DatabaseError::UpgradeRequired(v) => {
            Error::input(format!("{p}: redb file format {v} is too old for this shellsight"))
        }
        DatabaseError::Storage(redb::StorageError::Io(io)) if io.kind() == std::io::ErrorKind::WouldBlock => {
            Error::runtime(format!("{p}: baseline store in use by another shellsight process"))
        }
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            Error::input(format!("{p}: not a shellsight baseline store ({io})"))
        }
        DatabaseError::Storage(redb::StorageError::Io(io)) => Error::input(format!("{p}: {io}")),
        other => Error::input(format!("{p}: not a shellsight baseline store ({other})")),
    }
}
