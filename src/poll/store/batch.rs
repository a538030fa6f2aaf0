//! One write transaction of the poller: a batch of a window's events, the record memories and
//! the cursor, committed together or not at all.
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension as _};

use super::{Known, StoreError};

/// One transaction: a batch of a window's events, their record memories and the cursor, together.
pub struct Batch<'a> {
    pub(super) tx: rusqlite::Transaction<'a>,
    pub(super) path: PathBuf,
    // Declared after `tx`: dropped after it, so the turn ends after the commit or rollback.
    pub(super) _guard: std::sync::MutexGuard<'static, ()>,
}

impl Batch<'_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// What the state remembers of a record.
    pub fn known(&self, org: &str, object: &str, id: &str) -> Result<Option<Known>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT stamp, deleted_at, digests FROM records WHERE org = ?1 AND object = ?2 AND id = ?3",
            )
            .map_err(self.err())?;
        stmt.query_row([org, object, id], |r| {
            Ok(Known {
                stamp: r.get(0)?,
                deleted_at: r.get(1)?,
                digests: r.get::<_, Option<Vec<u8>>>(2)?.unwrap_or_default(),
            })
        })
        .optional()
        .map_err(self.err())
    }

    /// Remembers a record as handled at `stamp` (and deleted, with its digests).
    pub fn remember(
        &self,
        org: &str,
        object: &str,
        id: &str,
        known: &Known,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO records (org, object, id, stamp, deleted_at, digests, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (org, object, id) DO UPDATE SET stamp = ?4, deleted_at = ?5,
                   digests = ?6, seen_at = ?7",
            )
            .map_err(self.err())?;
        stmt.execute(params![
            org,
            object,
            id,
            known.stamp,
            known.deleted_at,
            known.digests,
            now
        ])
        .map_err(self.err())?;
        Ok(())
    }

    /// Puts a built delivery into the outbox (an existing `webhook_id` is kept as it is: the same
    /// events rebuilt after a crash are the same delivery).
    pub fn enqueue(
        &self,
        org: &str,
        object: &str,
        webhook_id: &str,
        body: &[u8],
        events: usize,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO outbox (org, object, webhook_id, body, events, status,
                   next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
            )
            .map_err(self.err())?;
        stmt.execute(params![org, object, webhook_id, body, events as i64, now])
            .map_err(self.err())?;
        Ok(())
    }

    /// Moves the changes cursor (ms).
    pub fn advance_changes(
        &self,
        org: &str,
        object: &str,
        to: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE cursors SET changes_at = ?3, last_window_at = ?4, last_error = NULL
                 WHERE org = ?1 AND object = ?2",
                params![org, object, to, now],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Moves the deletes cursor (ms), and its floor past a purged delete log.
    pub fn advance_deletes(
        &self,
        org: &str,
        object: &str,
        to: i64,
        floor: Option<i64>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE cursors SET deletes_at = ?3, deletes_floor_at = COALESCE(?4, deletes_floor_at)
                 WHERE org = ?1 AND object = ?2",
                params![org, object, to, floor],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Commits the batch: its events, memories and cursor become visible together.
    pub fn commit(self) -> Result<(), StoreError> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|source| StoreError::Sqlite { path, source })
    }
}
