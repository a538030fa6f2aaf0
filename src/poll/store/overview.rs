//! What `sfhooks poll status` reads: every org with its objects, outbox counts and last errors.
use rusqlite::OptionalExtension as _;

use super::{ObjectState, OrgState, OutboxCounts, Store, StoreError};

impl Store {
    /// Every org with its objects and counts, for `poll status`.
    pub fn overview(&self) -> Result<Vec<OrgState>, StoreError> {
        let mut orgs = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT name, org_id, org_clock, last_error FROM orgs ORDER BY name")
                .map_err(self.err())?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(OrgState {
                        name: r.get(0)?,
                        org_id: r.get(1)?,
                        org_clock: r.get(2)?,
                        last_error: r.get(3)?,
                        objects: Vec::new(),
                        counts: OutboxCounts::default(),
                        last_delivery_error: None,
                    })
                })
                .map_err(self.err())?;
            for row in rows {
                orgs.push(row.map_err(self.err())?);
            }
        }
        for org in &mut orgs {
            let mut stmt = self
                .conn
                .prepare("SELECT object, changes_at, last_error FROM cursors WHERE org = ?1 ORDER BY object")
                .map_err(self.err())?;
            let rows = stmt
                .query_map([&org.name], |r| {
                    Ok(ObjectState {
                        object: r.get(0)?,
                        changes_at: r.get(1)?,
                        last_error: r.get(2)?,
                    })
                })
                .map_err(self.err())?;
            for row in rows {
                org.objects.push(row.map_err(self.err())?);
            }
            org.counts = self.counts(Some(&org.name))?;
            org.last_delivery_error = self
                .conn
                .query_row(
                    "SELECT last_error FROM outbox WHERE org = ?1 AND status IN ('retrying', 'dead')
                     AND last_error IS NOT NULL ORDER BY seq DESC LIMIT 1",
                    [&org.name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.err())?;
        }
        Ok(orgs)
    }
}
