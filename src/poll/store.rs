//! The poller's state: one SQLite file (rusqlite, bundled), WAL, shared by the worker threads
//! through one connection each (SQLite serialises the writers; every transaction is short, no
//! network call runs inside one).
//!
//! Per org: the Salesforce org Id it was first seen with (a state made for another org is
//! refused) and the org's clock at the last answer. Per org and object: the changes cursor and the
//! deletes cursor (milliseconds since the epoch, the org's clock). Per record: the last
//! `SystemModstamp` delivered, whether it was seen deleted, and one 8-byte digest per delivered
//! field (never the values). The outbox holds the built bodies: a body is built once and every
//! retry sends the same bytes. Delivered rows and record memories older than the retention are
//! purged, so the file stays bounded by the changes of the retention, not by the org's size.
use std::path::{Path, PathBuf};
use std::time::Duration;

mod batch;
mod overview;

pub use batch::Batch;

use rusqlite::{params, Connection, OptionalExtension as _};

/// The process's writers take turns here before SQLite's own lock: with several workers, SQLite's
/// busy handler would otherwise sleep milliseconds at a time on every contended commit (measured:
/// 3 s instead of 0.6 s for a cycle of 1,000 orgs). Other processes (`poll status`, `poll
/// replay`) still meet SQLite's lock and its busy timeout.
static WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn writer() -> std::sync::MutexGuard<'static, ()> {
    WRITERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Schema version written into `meta`; a file with another is refused, never migrated blindly.
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
  name TEXT PRIMARY KEY, org_id TEXT NOT NULL, org_clock INTEGER, last_error TEXT);
CREATE TABLE IF NOT EXISTS cursors (
  org TEXT NOT NULL, object TEXT NOT NULL, changes_at INTEGER NOT NULL, deletes_at INTEGER NOT NULL,
  floor_at INTEGER NOT NULL, deletes_floor_at INTEGER NOT NULL, last_window_at INTEGER, last_error TEXT, PRIMARY KEY (org, object)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
  org TEXT NOT NULL, object TEXT NOT NULL, id TEXT NOT NULL, stamp INTEGER NOT NULL,
  deleted_at INTEGER, digests BLOB, seen_at INTEGER NOT NULL,
  PRIMARY KEY (org, object, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_seen ON records (seen_at);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, object TEXT NOT NULL, webhook_id TEXT NOT NULL,
  body BLOB NOT NULL, events INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  first_attempt_at INTEGER, next_attempt_at INTEGER NOT NULL, last_status INTEGER, last_error TEXT,
  created_at INTEGER NOT NULL, delivered_at INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_id ON outbox (org, webhook_id);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (org, status, next_attempt_at);
";

/// What went wrong with the state file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("the poll state {path} cannot be used: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Another poller holds the state.
    #[error(
        "the poll state {path} is in use by another sfhooks poll (its lock {lock} is held): \
         stop that one first, or give this one its own --state"
    )]
    InUse {
        /// The state file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be created.
    #[error("cannot create the lock {lock} of the poll state: {source}")]
    Lock {
        /// The lock file.
        lock: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The state was made for another org under the same name.
    #[error(
        "the poll state {path} belongs to another configuration: org {name:?} was polled as \
         {stored}, and its credentials now sign in to {actual}; give this configuration its own \
         --state (or rename the org in sfhooks.toml)"
    )]
    OtherOrg {
        /// The state file.
        path: PathBuf,
        /// The org's name.
        name: String,
        /// The org Id in the state.
        stored: String,
        /// The org Id signed in to now.
        actual: String,
    },
    /// A file that is not (this version's) poll state.
    #[error("{path} is not an sfhooks poll state of schema {SCHEMA_VERSION} (it says {found:?}); give --state a new file")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What its meta says.
        found: String,
    },
}

/// The exclusive lock on a state: held for the life of a running poller, released when the
/// process ends in any way (an OS file lock), so a `kill -9` never leaves it stuck.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Takes the lock beside `state` (`<state>.lock`), or says who holds it.
    pub fn acquire(state: &Path) -> Result<StateLock, StoreError> {
        let lock = lock_path(state);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|source| StoreError::Lock {
                lock: lock.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: state.to_path_buf(),
                lock,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Lock { lock, source }),
        }
    }
}

fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// What the state remembers of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The last `SystemModstamp` handled (ms).
    pub stamp: i64,
    /// When it was seen deleted (ms), if it was.
    pub deleted_at: Option<i64>,
    /// Digests of the fields last delivered (see `classify::Digests`).
    pub digests: Vec<u8>,
}

/// The cursors of one org and object (ms, the org's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Changes up to here are handled.
    pub changes_at: i64,
    /// Deletions up to here are handled (`latestDateCovered`).
    pub deletes_at: i64,
    /// No changes window starts before this (where polling began, or the `--backfill`), so
    /// the lookback never reaches changes from before the start.
    pub floor_at: i64,
    /// No deletes window starts before this (also moved past a purged delete log).
    pub deletes_floor_at: i64,
}

impl Cursor {
    /// Everything at one instant: a new cursor, or a `--backfill`.
    pub fn at(ms: i64) -> Cursor {
        Cursor {
            changes_at: ms,
            deletes_at: ms,
            floor_at: ms,
            deletes_floor_at: ms,
        }
    }
}

/// A delivery waiting in the outbox.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its row.
    pub seq: i64,
    /// The object its events are about.
    pub object: String,
    /// `webhook-id`.
    pub webhook_id: String,
    /// The exact bytes to send.
    pub body: Vec<u8>,
    /// How many events it carries.
    pub events: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// When the first attempt was made (ms, local clock), if any.
    pub first_attempt_at: Option<i64>,
}

/// A delivery's state after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// Will be tried again at this time (ms).
    Retry(i64),
    /// Given up.
    Dead,
}

/// Counts of one org's outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    /// Built, never attempted.
    pub pending: i64,
    /// Attempted, failed, will be retried.
    pub retrying: i64,
    /// Given up.
    pub dead: i64,
    /// Delivered (still in the retention).
    pub delivered: i64,
}

/// One object's line of `poll status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// The object.
    pub object: String,
    /// Its changes cursor (ms).
    pub changes_at: i64,
    /// Its last error, if the last window failed.
    pub last_error: Option<String>,
}

/// One org's part of `poll status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgState {
    /// Its name.
    pub name: String,
    /// Its Salesforce org Id.
    pub org_id: String,
    /// The org's clock at the last answer (ms).
    pub org_clock: Option<i64>,
    /// The last error of the org as a whole (sign-in, API budget).
    pub last_error: Option<String>,
    /// Its objects.
    pub objects: Vec<ObjectState>,
    /// Its outbox.
    pub counts: OutboxCounts,
    /// The last delivery error, if any delivery is retrying or dead.
    pub last_delivery_error: Option<String>,
}

/// One connection to the state.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating) the state at `path`: WAL with `synchronous = NORMAL`, a busy timeout for
    /// the other workers. NORMAL keeps every committed transaction through a `kill -9` (the WAL is
    /// in the OS's hands at commit); a power cut may lose the last ones, and then their cursor
    /// together with their events, so the restart reads those windows again and rebuilds the same
    /// events with the same ids: at worst a resend, which receivers dedupe. FULL would fsync every
    /// window's commit, which costs more than the window itself for a thousand quiet orgs.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        match found {
            None => {
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(err)?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found: v,
                })
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing state only (for `poll status` / `poll replay`).
    pub fn open_existing(path: &Path) -> Result<Option<Store>, StoreError> {
        if !path.is_file() {
            return Ok(None);
        }
        Store::open(path).map(Some)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Records which Salesforce org `name` is, or refuses a name now pointing at another org.
    pub fn bind_org(&self, name: &str, org_id: &str) -> Result<(), StoreError> {
        let _w = writer();
        let stored: Option<String> = self
            .conn
            .query_row("SELECT org_id FROM orgs WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        match stored {
            Some(stored) if !same_org(&stored, org_id) => Err(StoreError::OtherOrg {
                path: self.path.clone(),
                name: name.to_string(),
                stored,
                actual: org_id.to_string(),
            }),
            Some(_) => Ok(()),
            None => {
                self.conn
                    .execute(
                        "INSERT INTO orgs (name, org_id) VALUES (?1, ?2)",
                        [name, org_id],
                    )
                    .map_err(self.err())?;
                Ok(())
            }
        }
    }

    /// Notes the org's clock and its last error (`None`: it worked).
    pub fn note_org(
        &self,
        name: &str,
        org_clock: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let _w = writer();
        self.conn
            .execute(
                "UPDATE orgs SET org_clock = COALESCE(?2, org_clock), last_error = ?3 WHERE name = ?1",
                params![name, org_clock, error],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The cursors of an org and object, if it was polled before.
    pub fn cursor(&self, org: &str, object: &str) -> Result<Option<Cursor>, StoreError> {
        self.conn
            .query_row(
                "SELECT changes_at, deletes_at, floor_at, deletes_floor_at FROM cursors
                 WHERE org = ?1 AND object = ?2",
                [org, object],
                |r| {
                    Ok(Cursor {
                        changes_at: r.get(0)?,
                        deletes_at: r.get(1)?,
                        floor_at: r.get(2)?,
                        deletes_floor_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Sets (or resets, for `--backfill`) both cursors of an org and object.
    pub fn set_cursor(&self, org: &str, object: &str, cursor: Cursor) -> Result<(), StoreError> {
        let _w = writer();
        self.conn
            .execute(
                "INSERT INTO cursors (org, object, changes_at, deletes_at, floor_at, deletes_floor_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (org, object) DO UPDATE SET changes_at = ?3, deletes_at = ?4,
                   floor_at = ?5, deletes_floor_at = ?6",
                params![org, object, cursor.changes_at, cursor.deletes_at, cursor.floor_at, cursor.deletes_floor_at],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Notes an object's last error (`None` clears it).
    pub fn note_object_error(
        &self,
        org: &str,
        object: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let _w = writer();
        self.conn
            .execute(
                "UPDATE cursors SET last_error = ?3 WHERE org = ?1 AND object = ?2",
                params![org, object, error],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Starts the transaction of one batch of a window.
    pub fn batch(&mut self) -> Result<Batch<'_>, StoreError> {
        let guard = writer();
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(Batch {
            tx,
            path,
            _guard: guard,
        })
    }

    /// The deliveries of an org due at `now` (ms), oldest first.
    pub fn due(&self, org: &str, now: i64, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, object, webhook_id, body, events, attempts, first_attempt_at FROM outbox
                 WHERE org = ?1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?2
                 ORDER BY seq LIMIT ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![org, now, limit as i64], |r| {
                Ok(Pending {
                    seq: r.get(0)?,
                    object: r.get(1)?,
                    webhook_id: r.get(2)?,
                    body: r.get(3)?,
                    events: r.get(4)?,
                    attempts: r.get(5)?,
                    first_attempt_at: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Whether an org has an older delivery not yet due (it keeps the order: nothing newer
    /// overtakes a retrying one).
    pub fn waiting(&self, org: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE org = ?1 AND status IN ('pending', 'retrying')",
                [org],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Records an attempt's outcome.
    pub fn record_attempt(
        &self,
        seq: i64,
        now: i64,
        outcome: Outcome,
        http_status: Option<u16>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let _w = writer();
        let (status, next, delivered) = match outcome {
            Outcome::Delivered => ("delivered", now, Some(now)),
            Outcome::Retry(at) => ("retrying", at, None),
            Outcome::Dead => ("dead", now, None),
        };
        self.conn
            .execute(
                "UPDATE outbox SET status = ?2, attempts = attempts + 1,
                   first_attempt_at = COALESCE(first_attempt_at, ?3), next_attempt_at = ?4,
                   last_status = ?5, last_error = ?6, delivered_at = ?7 WHERE seq = ?1",
                params![seq, status, now, next, http_status, error, delivered],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Counts an org's outbox (`None`: every org).
    pub fn counts(&self, org: Option<&str>) -> Result<OutboxCounts, StoreError> {
        let mut c = OutboxCounts::default();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, COUNT(*) FROM outbox WHERE ?1 IS NULL OR org = ?1 GROUP BY status",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([org], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?;
        for row in rows {
            let (status, n) = row.map_err(self.err())?;
            match status.as_str() {
                "pending" => c.pending = n,
                "retrying" => c.retrying = n,
                "dead" => c.dead = n,
                _ => c.delivered = n,
            }
        }
        Ok(c)
    }

    /// Puts dead deliveries back (due now, attempts and first attempt reset); returns how many.
    pub fn replay_dead(&self, org: Option<&str>, now: i64) -> Result<usize, StoreError> {
        let _w = writer();
        self.conn
            .execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, first_attempt_at = NULL,
                   next_attempt_at = ?2 WHERE status = 'dead' AND (?1 IS NULL OR org = ?1)",
                params![org, now],
            )
            .map_err(self.err())
    }

    /// Forgets delivered rows and record memories older than the retention (local clock, ms).
    pub fn purge(&self, now: i64, retention: Duration) -> Result<(usize, usize), StoreError> {
        let _w = writer();
        let before = now - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let deliveries = self
            .conn
            .execute(
                "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?1",
                [before],
            )
            .map_err(self.err())?;
        let records = self
            .conn
            .execute("DELETE FROM records WHERE seen_at < ?1", [before])
            .map_err(self.err())?;
        Ok((deliveries, records))
    }

    /// The org names the state knows.
    pub fn org_names(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM orgs ORDER BY name")
            .map_err(self.err())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }
}

/// Org Ids compare on their first 15 characters (the 18-character form adds a case checksum).
fn same_org(a: &str, b: &str) -> bool {
    a.get(..15).is_some_and(|a15| b.get(..15) == Some(a15))
}

#[cfg(test)]
mod tests;
