//! A bounded set of recently accepted `webhook-id`s, for refusing replays inside the window.
//!
//! Why it is needed: the timestamp check alone leaves a window (twice the tolerance) in which a
//! captured delivery verifies again; Standard Webhooks tells receivers to dedupe on `webhook-id`.
//! An id only has to be remembered until its delivery would be refused as stale anyway
//! (`timestamp + tolerance`), so entries expire by time; a count cap bounds memory even if a
//! sender floods us with fresh ids, evicting the entries closest to expiry first. Only ids of
//! verified deliveries should be claimed, so an attacker without the secret cannot fill it.
//!
//! The set is plain data (no clock, no lock): the caller passes `now` and wraps it in a mutex.
use std::collections::{BTreeMap, HashMap};

/// What [`SeenIds::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First time: process it, then call [`SeenIds::complete`] or [`SeenIds::release`].
    New,
    /// Already processed: acknowledge without processing again.
    Duplicate,
    /// Being processed right now by another request: answer so the sender retries later.
    InFlight,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    expires_at: i64,
    seq: u64,
    done: bool,
}

/// Recently seen ids, each until its expiry time, at most `capacity` of them.
#[derive(Debug)]
pub struct SeenIds {
    entries: HashMap<String, Entry>,
    /// Expiry order: (expires_at, insertion number) -> id.
    by_expiry: BTreeMap<(i64, u64), String>,
    capacity: usize,
    next_seq: u64,
}

impl SeenIds {
    /// An empty set remembering at most `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        SeenIds {
            entries: HashMap::new(),
            by_expiry: BTreeMap::new(),
            capacity: capacity.max(1),
            next_seq: 0,
        }
    }

    /// Records `id` as being processed until `expires_at` (Unix seconds, normally the delivery's
    /// timestamp plus the tolerance), unless it is already known.
    ///
    /// A duplicate pushes the expiry out to the later of the two: a retry carries a new
    /// timestamp, and a replay of that retry must be recognised for as long as it would verify.
    pub fn claim(&mut self, id: &str, expires_at: i64, now: i64) -> Claim {
        self.evict_expired(now);
        if let Some(entry) = self.entries.get(id).copied() {
            if expires_at > entry.expires_at {
                self.reschedule(id, entry, expires_at);
            }
            return if entry.done {
                Claim::Duplicate
            } else {
                Claim::InFlight
            };
        }
        while self.entries.len() >= self.capacity {
            let Some(((_, _), oldest)) = self.by_expiry.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let seq = self.bump();
        self.entries.insert(
            id.to_owned(),
            Entry {
                expires_at,
                seq,
                done: false,
            },
        );
        self.by_expiry.insert((expires_at, seq), id.to_owned());
        Claim::New
    }

    /// Marks a claimed id as processed: later claims are duplicates until it expires.
    pub fn complete(&mut self, id: &str) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.done = true;
        }
    }

    /// Forgets a claimed id whose processing failed, so the sender's retry is processed.
    pub fn release(&mut self, id: &str) {
        if let Some(entry) = self.entries.remove(id) {
            self.by_expiry.remove(&(entry.expires_at, entry.seq));
        }
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict_expired(&mut self, now: i64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 >= now {
                break;
            }
            let id = entry.remove();
            self.entries.remove(&id);
        }
    }

    fn reschedule(&mut self, id: &str, entry: Entry, expires_at: i64) {
        self.by_expiry.remove(&(entry.expires_at, entry.seq));
        let seq = self.bump();
        self.by_expiry.insert((expires_at, seq), id.to_owned());
        self.entries.insert(
            id.to_owned(),
            Entry {
                expires_at,
                seq,
                ..entry
            },
        );
    }

    fn bump(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_claim_is_a_duplicate_once_completed_and_in_flight_before() {
        let mut seen = SeenIds::new(10);
        assert_eq!(seen.claim("a", 100, 0), Claim::New);
        assert_eq!(seen.claim("a", 100, 1), Claim::InFlight);
        seen.complete("a");
        assert_eq!(seen.claim("a", 100, 2), Claim::Duplicate);
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn released_ids_are_new_again() {
        let mut seen = SeenIds::new(10);
        assert_eq!(seen.claim("a", 100, 0), Claim::New);
        seen.release("a");
        assert!(seen.is_empty());
        assert_eq!(seen.claim("a", 100, 0), Claim::New);
    }

    #[test]
    fn ids_expire_after_their_window() {
        let mut seen = SeenIds::new(10);
        seen.claim("a", 100, 0);
        seen.complete("a");
        assert_eq!(seen.claim("a", 100, 100), Claim::Duplicate);
        assert_eq!(seen.claim("a", 200, 101), Claim::New);
    }

    #[test]
    fn a_duplicate_extends_the_window() {
        let mut seen = SeenIds::new(10);
        seen.claim("a", 100, 0);
        seen.complete("a");
        // A retry with a later timestamp arrives inside the first window.
        assert_eq!(seen.claim("a", 150, 50), Claim::Duplicate);
        assert_eq!(seen.claim("a", 150, 120), Claim::Duplicate);
        assert_eq!(seen.claim("a", 200, 151), Claim::New);
        assert_eq!(seen.by_expiry.len(), seen.entries.len());
    }

    #[test]
    fn capacity_evicts_the_entry_closest_to_expiry() {
        let mut seen = SeenIds::new(2);
        seen.claim("late", 300, 0);
        seen.claim("early", 100, 0);
        seen.claim("new", 200, 0);
        assert_eq!(seen.len(), 2);
        seen.complete("late");
        seen.complete("new");
        assert_eq!(seen.claim("late", 300, 0), Claim::Duplicate);
        assert_eq!(seen.claim("new", 200, 0), Claim::Duplicate);
        assert_eq!(seen.by_expiry.len(), 2);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood() {
        let mut seen = SeenIds::new(1000);
        for i in 0..10_000 {
            seen.claim(&format!("msg_{i}"), 1_000_000, 0);
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen.by_expiry.len(), 1000);
    }
}
