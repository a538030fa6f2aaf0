//! The state's transactions, lock, org binding and outbox life.
use super::*;

#[test]
fn a_batch_is_all_or_nothing_and_ids_are_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = Store::open(&path).unwrap();
    store.bind_org("acme", "00Dfake0000000001AAA").unwrap();
    store.set_cursor("acme", "Contact", Cursor::at(1)).unwrap();
    {
        let b = store.batch().unwrap();
        b.enqueue("acme", "Contact", "msg_1", b"{}", 1, 10).unwrap();
        b.advance_changes("acme", "Contact", 99, 10).unwrap();
        // dropped without commit: a crash before the commit
    }
    assert_eq!(
        store.cursor("acme", "Contact").unwrap().unwrap().changes_at,
        1
    );
    assert_eq!(store.counts(None).unwrap().pending, 0);
    let b = store.batch().unwrap();
    b.enqueue("acme", "Contact", "msg_1", b"{}", 1, 10).unwrap();
    b.enqueue("acme", "Contact", "msg_1", b"other", 1, 10)
        .unwrap();
    b.remember(
        "acme",
        "Contact",
        "003A",
        &Known {
            stamp: 5,
            deleted_at: None,
            digests: vec![1],
        },
        10,
    )
    .unwrap();
    b.advance_changes("acme", "Contact", 99, 10).unwrap();
    b.commit().unwrap();
    assert_eq!(
        store.cursor("acme", "Contact").unwrap().unwrap().changes_at,
        99
    );
    let due = store.due("acme", 10, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].body, b"{}");
    let b = store.batch().unwrap();
    assert_eq!(
        b.known("acme", "Contact", "003A").unwrap().unwrap().stamp,
        5
    );
    assert_eq!(b.known("acme", "Contact", "003B").unwrap(), None);
}

#[test]
fn another_org_under_the_same_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    store.bind_org("acme", "00Dfake0000000001AAA").unwrap();
    store.bind_org("acme", "00Dfake0000000001").unwrap();
    let err = store
        .bind_org("acme", "00Dother000000001AAA")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("belongs to another configuration") && err.contains("--state"),
        "{err}"
    );
}

#[test]
fn the_lock_is_exclusive_and_released_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let held = StateLock::acquire(&path).unwrap();
    let err = StateLock::acquire(&path).unwrap_err().to_string();
    assert!(err.contains("in use by another sfhooks poll"), "{err}");
    drop(held);
    StateLock::acquire(&path).unwrap();
}

#[test]
fn attempts_dead_replay_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    store.bind_org("acme", "00Dfake0000000001AAA").unwrap();
    let b = store.batch().unwrap();
    b.enqueue("acme", "Contact", "msg_1", b"a", 1, 0).unwrap();
    b.enqueue("acme", "Contact", "msg_2", b"b", 1, 0).unwrap();
    b.commit().unwrap();
    let due = store.due("acme", 0, 10).unwrap();
    store
        .record_attempt(due[0].seq, 1, Outcome::Dead, Some(503), Some("HTTP 503"))
        .unwrap();
    store
        .record_attempt(due[1].seq, 1, Outcome::Delivered, Some(200), None)
        .unwrap();
    let c = store.counts(Some("acme")).unwrap();
    assert_eq!((c.pending, c.dead, c.delivered), (0, 1, 1));
    let overview = store.overview().unwrap();
    assert_eq!(overview[0].last_delivery_error.as_deref(), Some("HTTP 503"));
    assert_eq!(store.replay_dead(Some("other"), 2).unwrap(), 0);
    assert_eq!(store.replay_dead(None, 2).unwrap(), 1);
    assert_eq!(store.due("acme", 2, 10).unwrap()[0].attempts, 0);
    assert_eq!(
        store.purge(1 + 1000, Duration::from_secs(1)).unwrap(),
        (0, 0)
    );
    assert_eq!(store.purge(1 + 1001, Duration::from_secs(1)).unwrap().0, 1);
}
