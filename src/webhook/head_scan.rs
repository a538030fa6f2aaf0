//! The envelope's head from a body that arrives in blocks, at memory speed: the members an
//! [`EnvelopeHead`] needs are kept, every other member's value (the events' records and changed
//! fields, the bulk of a large delivery) is skipped by a scanner that only follows strings and
//! brackets, and `null` stands in its place. What is kept is then parsed by serde_json from a
//! slice. A reader-based serde parse of a 64 MiB envelope ran at about 110 MB/s, a tenth of what
//! the HMAC beside it hashes, so the summary of `sfhooks verify` was the bottleneck.
//!
//! Skipped values are checked only for balanced strings and brackets, not for full JSON syntax:
//! they are not part of the summary, and the signature, not this parse, vouches for the bytes.
//! Everything kept is parsed strictly, so a body that is no envelope still says why.
use memchr::memchr2;

use super::envelope::{check_head, EnvelopeError, EnvelopeHead, EventHead};

/// Longest member name compared; longer names are none of the kept ones.
const KEY_LIMIT: usize = 32;

/// Where a container sits in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The envelope object.
    Root,
    /// Its `data` object.
    Data,
    /// The `events` array.
    Events,
    /// One event object.
    Event,
    /// Inside a kept member (an event's `gap`): copied whole.
    Kept,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    object: bool,
    level: Level,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Outside strings, copying.
    Between,
    /// Inside a copied string (`key`: a member name, also collected).
    InString { escape: bool, key: bool },
    /// After the `:` of a skipped member, before its value.
    BeforeSkip,
    /// Inside a skipped value, `depth` brackets deep.
    Skipping {
        depth: u32,
        in_string: bool,
        escape: bool,
    },
}

/// Feeds a body through in blocks, then [`HeadScanner::finish`] parses what it kept.
#[derive(Debug)]
pub struct HeadScanner {
    kept: Vec<u8>,
    stack: Vec<Frame>,
    mode: Mode,
    awaiting_key: bool,
    key: Vec<u8>,
    key_overflow: bool,
    failed: bool,
    /// Where the event being read starts in `kept`.
    event_start: usize,
    /// The events read so far: each is parsed as soon as it closes (on this thread, while the
    /// body is still being hashed) and taken out of `kept`, so no parse is left for the end.
    events: Vec<EventHead>,
    /// A `,` between events was read and no event after it yet.
    comma_pending: bool,
    /// The last thing in the events array was an event (so a `,` may follow).
    after_event: bool,
    event_error: Option<serde_json::Error>,
}

impl Default for HeadScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadScanner {
    /// A scanner at the start of a body.
    pub fn new() -> Self {
        HeadScanner {
            kept: Vec::new(),
            stack: Vec::new(),
            mode: Mode::Between,
            awaiting_key: false,
            key: Vec::with_capacity(KEY_LIMIT),
            key_overflow: false,
            failed: false,
            event_start: 0,
            events: Vec::new(),
            comma_pending: false,
            after_event: false,
            event_error: None,
        }
    }

    /// Takes the next block of the body. Returns `false` once the body cannot be an envelope:
    /// the rest need not be fed (and is ignored).
    pub fn feed(&mut self, block: &[u8]) -> bool {
        if self.failed {
            return false;
        }
        let mut i = 0;
        while i < block.len() {
            match self.mode {
                Mode::Between => {
                    if !self.between(block[i]) {
                        self.kept.push(block[i]);
                        self.failed = true;
                        return false;
                    }
                    i += 1;
                }
                Mode::InString { escape, key } => i = self.in_string(block, i, escape, key),
                Mode::BeforeSkip => {
                    if !block[i].is_ascii_whitespace() {
                        self.kept.extend_from_slice(b"null");
                        self.mode = Mode::Skipping {
                            depth: 0,
                            in_string: false,
                            escape: false,
                        };
                        continue;
                    }
                    i += 1;
                }
                Mode::Skipping {
                    depth,
                    in_string,
                    escape,
                } => i = self.skipping(block, i, depth, in_string, escape),
            }
        }
        true
    }

    /// The head of the body fed so far, checked like [`super::parse_envelope_head`]'s.
    pub fn finish(self) -> Result<EnvelopeHead, EnvelopeError> {
        if let Some(err) = self.event_error {
            return Err(err.into());
        }
        let mut head: EnvelopeHead = serde_json::from_slice(&self.kept)?;
        // Events of the recognised array were taken out as they closed, so serde saw it empty;
        // under an escaped member name nothing was taken out and serde read them itself.
        if head.data.events.is_empty() {
            head.data.events = self.events;
        }
        check_head(head)
    }

    /// One byte outside strings; `false` if no JSON (or no envelope) can have it here.
    fn between(&mut self, byte: u8) -> bool {
        match byte {
            b'"' => {
                let key = self.awaiting_key && self.top().is_some_and(|f| f.object);
                self.awaiting_key = false;
                if key {
                    self.key.clear();
                    self.key_overflow = false;
                }
                self.mode = Mode::InString { escape: false, key };
            }
            b':' => {
                let skip = self
                    .top()
                    .is_some_and(|f| f.object && !self.key_is_kept(f.level));
                if skip {
                    self.mode = Mode::BeforeSkip;
                }
            }
            b'{' | b'[' => {
                let object = byte == b'{';
                let Some(level) = self.child_level(object) else {
                    return false;
                };
                match level {
                    Level::Event => {
                        self.event_start = self.kept.len();
                        self.comma_pending = false;
                    }
                    Level::Events => self.after_event = false,
                    _ => {}
                }
                self.stack.push(Frame { object, level });
                self.awaiting_key = object;
            }
            b'}' | b']' => match self.stack.pop() {
                Some(frame) if frame.object == (byte == b'}') => {
                    self.awaiting_key = false;
                    if frame.level == Level::Events && self.comma_pending {
                        return false;
                    }
                    if frame.level == Level::Event {
                        self.kept.push(byte);
                        return self.take_event();
                    }
                }
                _ => return false,
            },
            b',' if self.top().is_some_and(|f| f.level == Level::Events) => {
                // Events leave `kept` as they close, and so do the commas between them.
                if !self.after_event {
                    return false;
                }
                self.comma_pending = true;
                self.after_event = false;
                return true;
            }
            b',' => self.awaiting_key = self.top().is_some_and(|f| f.object),
            b' ' | b'\t' | b'\n' | b'\r'
                if self.top().is_some_and(|f| f.level == Level::Events) =>
            {
                return true;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' => {}
            b't' | b'r' | b'u' | b'f' | b'a' | b'l' | b's' | b'n' => {}
            _ => return false,
        }
        self.kept.push(byte);
        true
    }

    /// Copies string bytes from `block[i..]`; the index after what it took.
    fn in_string(&mut self, block: &[u8], mut i: usize, escape: bool, key: bool) -> usize {
        if escape {
            self.take(block[i], key);
            self.mode = Mode::InString { escape: false, key };
            return i + 1;
        }
        let rest = &block[i..];
        let Some(at) = memchr2(b'"', b'\\', rest) else {
            self.take_all(rest, key);
            return block.len();
        };
        self.take_all(&rest[..at], key);
        i += at;
        if block[i] == b'\\' {
            self.take(b'\\', key);
            self.mode = Mode::InString { escape: true, key };
        } else {
            self.kept.push(b'"');
            self.mode = Mode::Between;
        }
        i + 1
    }

    /// Skips value bytes from `block[i..]`; the index of the first byte not skipped.
    fn skipping(
        &mut self,
        block: &[u8],
        mut i: usize,
        mut depth: u32,
        mut in_string: bool,
        mut escape: bool,
    ) -> usize {
        while i < block.len() {
            if escape {
                escape = false;
                i += 1;
                continue;
            }
            if in_string {
                match memchr2(b'"', b'\\', &block[i..]) {
                    None => i = block.len(),
                    Some(at) => {
                        i += at;
                        if block[i] == b'\\' {
                            escape = true;
                        } else {
                            in_string = false;
                            if depth == 0 {
                                self.mode = Mode::Between;
                                return i + 1;
                            }
                        }
                        i += 1;
                    }
                }
                continue;
            }
            match block[i] {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' | b',' if depth == 0 => {
                    // A scalar value ended: the byte belongs to the container around it.
                    self.mode = Mode::Between;
                    return i;
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.mode = Mode::Between;
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.mode = Mode::Skipping {
            depth,
            in_string,
            escape,
        };
        i
    }

    /// Parses the event that just closed and takes it out of `kept`; `false` if it is no event.
    fn take_event(&mut self) -> bool {
        match serde_json::from_slice::<EventHead>(&self.kept[self.event_start..]) {
            Ok(event) => {
                self.events.push(event);
                self.kept.truncate(self.event_start);
                self.after_event = true;
                true
            }
            Err(err) => {
                self.event_error = Some(err);
                false
            }
        }
    }

    fn take(&mut self, byte: u8, key: bool) {
        self.kept.push(byte);
        if key {
            self.collect_key(&[byte]);
        }
    }

    fn take_all(&mut self, bytes: &[u8], key: bool) {
        self.kept.extend_from_slice(bytes);
        if key {
            self.collect_key(bytes);
        }
    }

    fn collect_key(&mut self, bytes: &[u8]) {
        if self.key.len() + bytes.len() > KEY_LIMIT {
            self.key_overflow = true;
        } else {
            self.key.extend_from_slice(bytes);
        }
    }

    fn top(&self) -> Option<&Frame> {
        self.stack.last()
    }

    /// Whether the member just named is one the head keeps, in an object at `level`.
    fn key_is_kept(&self, level: Level) -> bool {
        // A name written with escapes might spell a kept one: keep it, serde decides.
        if self.key_overflow || self.key.contains(&b'\\') {
            return true;
        }
        let kept: &[&[u8]] = match level {
            Level::Root => &[b"type", b"data"],
            Level::Data => &[b"orgId", b"events"],
            Level::Event => &[b"eventId", b"eventType", b"objectType", b"objectId", b"gap"],
            Level::Events | Level::Kept => return true,
        };
        kept.contains(&self.key.as_slice())
    }

    /// The level of a container opening here, or `None` where an envelope has none of that kind
    /// (serde would refuse it too, and copying it could hold a large body in memory).
    fn child_level(&self, object: bool) -> Option<Level> {
        let Some(parent) = self.top() else {
            return object.then_some(Level::Root);
        };
        let key = self.key.as_slice();
        match (parent.level, object) {
            (Level::Root, true) if key == b"data" => Some(Level::Data),
            (Level::Data, false) if key == b"events" => Some(Level::Events),
            (Level::Events, true) => Some(Level::Event),
            (Level::Event, _) if key == b"gap" => Some(Level::Kept),
            (Level::Kept, _) => Some(Level::Kept),
            // Escaped names were kept above; serde reads what they are.
            _ if key.contains(&b'\\') || self.key_overflow => Some(Level::Kept),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_blocks(body: &[u8], block: usize) -> (bool, Result<EnvelopeHead, EnvelopeError>) {
        let mut scanner = HeadScanner::new();
        let mut fed_all = true;
        for chunk in body.chunks(block.max(1)) {
            fed_all &= scanner.feed(chunk);
        }
        (fed_all, scanner.finish())
    }

    const ENVELOPE: &str = r#"{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z",
      "data":{"orgId":"00D5g000004SmKpEAK","events":[
        {"eventId":"e1","eventType":"CREATED","objectType":"Contact","objectId":"003A",
         "record":{"Id":"003A","Description":"a \"quoted\" }] text, with \\ and [brackets]","N":[1,{"x":null}]},
         "changedFields":["A","B"],"extra":-1.5e3},
        {"eventId":"e2","eventType":"GAP","objectType":"Contact",
         "gap":{"from":"2025-01-31T11:59:00.000Z","to":"2025-01-31T12:00:05.000Z","count":3,"reason":"DML_ROWS"},"n":true}
      ]}}"#;

    #[test]
    fn every_block_size_gives_the_head_serde_gives() {
        let want: EnvelopeHead = serde_json::from_str(ENVELOPE).expect("fixture parses");
        for block in 1..=ENVELOPE.len() {
            let (fed_all, head) = scan_in_blocks(ENVELOPE.as_bytes(), block);
            assert!(fed_all, "block {block}");
            assert_eq!(head.expect("envelope"), want, "block {block}");
        }
    }

    #[test]
    fn skipped_values_are_not_kept() {
        let mut scanner = HeadScanner::new();
        assert!(scanner.feed(ENVELOPE.as_bytes()));
        let kept = String::from_utf8(scanner.kept.clone()).expect("utf-8");
        assert!(!kept.contains("Description"), "{kept}");
        assert!(!kept.contains("changedFields\":[\"A"), "{kept}");
        assert!(
            kept.contains("\"events\":[]"),
            "events leave as they close: {kept}"
        );
        assert_eq!(scanner.events.len(), 2);
        assert!(scanner.events[1].gap.is_some(), "the gap is kept");
    }

    #[test]
    fn a_body_that_is_no_envelope_stops_early_and_says_why() {
        for body in [
            &b"\x00\x9f random bytes"[..],
            b"[1,2,3]",
            b"{\"type\":\"x\",\"data\":[]}",
            b"{\"data\":{\"events\":{}}}",
            b"{\"type\": nope}",
            b"{\"type\":\"sfhooks.events\"}}",
            b"{\"type\":\"sfhooks.events\",\"data\":{\"orgId\":\"00D\",\"events\":[,]}}",
            b"{\"type\":\"sfhooks.events\",\"data\":{\"orgId\":\"00D\",\"events\":[1]}}",
            b"{\"type\":\"sfhooks.events\",\"data\":{\"orgId\":\"00D\",\"events\":[{\"eventId\":\"e\",\"eventType\":\"GAP\",\"objectType\":\"C\",\"gap\":null},]}}",
            b"{\"type\":\"sfhooks.events\",\"data\":{\"orgId\":\"00D\",\"events\":[{\"eventId\":7}]}}",
        ] {
            let (_, head) = scan_in_blocks(body, 3);
            assert!(
                matches!(head, Err(EnvelopeError::Json(_))),
                "{:?}: {head:?}",
                String::from_utf8_lossy(body)
            );
        }
        let mut scanner = HeadScanner::new();
        assert!(!scanner.feed(b"\x00"));
        assert!(!scanner.feed(&[b'x'; 1 << 20]));
        assert!(scanner.kept.len() < 16, "nothing more is held");
    }

    #[test]
    fn escaped_member_names_are_read_by_serde() {
        let body = r#"{"type":"sfhooks.events","data":{"orgId":"00D5g000004SmKpEAK",
            "events":[{"event\u0049d":"e1","eventType":"CREATED","objectType":"Contact","objectId":"003A"}]}}"#;
        let (_, head) = scan_in_blocks(body.as_bytes(), 7);
        assert_eq!(head.expect("envelope").data.events[0].event_id, "e1");
    }

    #[test]
    fn events_under_an_escaped_member_name_are_kept_for_serde() {
        // `d\u0061ta` is `data`: the scanner cannot tell, copies it whole, and serde reads it.
        let body = r#"{"type":"sfhooks.events","d\u0061ta":{"orgId":"00D5g000004SmKpEAK",
            "events":[{"eventId":"e1","eventType":"CREATED","objectType":"Contact","objectId":"003A"}]}}"#;
        let (_, head) = scan_in_blocks(body.as_bytes(), 5);
        let head = head.expect("envelope");
        assert_eq!(head.data.events.len(), 1);
        assert_eq!(head.data.events[0].event_id, "e1");
    }

    #[test]
    fn the_checks_of_the_reader_parse_apply() {
        let wrong = r#"{"type":"other","data":{"orgId":"00D","events":[]}}"#;
        let (_, head) = scan_in_blocks(wrong.as_bytes(), 5);
        assert!(
            matches!(head, Err(EnvelopeError::WrongType { .. })),
            "{head:?}"
        );
        let truncated = &ENVELOPE.as_bytes()[..ENVELOPE.len() / 2];
        let (_, head) = scan_in_blocks(truncated, 64);
        assert!(matches!(head, Err(EnvelopeError::Json(_))), "{head:?}");
    }
}
