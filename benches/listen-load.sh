#!/usr/bin/env bash
# Load test of `sfhooks listen`, on loopback only.
#
# Starts a release build of `sfhooks listen` on 127.0.0.1 (a free port), then runs wrk for
# DURATION seconds posting 1 KB Standard Webhooks envelopes, each with its own webhook-id and a
# real v1 signature (signed ahead of time with openssl, since wrk's Lua cannot do HMAC). Every
# request is therefore read, verified, checked against the replay set, parsed and printed, as in
# production. If wrk outruns the REQUESTS pre-signed ids, ids repeat: a repeat whose id is still in
# the listener's replay set (at most 100,000 ids) is acknowledged as a duplicate, an older one is
# processed again; the script prints both counts. The listener is stopped with SIGINT at the end
# (or on error).
#
# Usage:   benches/listen-load.sh [DURATION=10] [CONNECTIONS=16] [THREADS=1] [REQUESTS=400000]
# Needs:   wrk, openssl, awk, split, od, base64 (Debian: apt-get install -y wrk openssl)
# Binary:  $SFHOOKS_BIN, else `cargo build --release` and target/release/sfhooks
set -euo pipefail

DURATION=${1:-10}
CONNECTIONS=${2:-16}
THREADS=${3:-1}
REQUESTS=${4:-400000}
BATCH=10000

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
for tool in wrk openssl awk split od base64; do
  command -v "$tool" >/dev/null || { echo "listen-load.sh: $tool not found (apt-get install -y wrk openssl)" >&2; exit 2; }
done

if [[ -z "${SFHOOKS_BIN:-}" ]]; then
  (cd "$root" && cargo build --release --quiet --bin sfhooks)
  SFHOOKS_BIN="${CARGO_TARGET_DIR:-$root/target}/release/sfhooks"
fi

# tmpfs if there is one: the signing step writes and deletes one small file per request.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
listener=""
cleanup() {
  if [[ -n "$listener" ]] && kill -0 "$listener" 2>/dev/null; then
    kill -INT "$listener" 2>/dev/null || true
    wait "$listener" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh secret, and its key bytes in hex for openssl.
secret=$("$SFHOOKS_BIN" secret)
hexkey=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')

# A 1024-byte envelope with one UPDATED Contact, padded in a record field.
head='{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z","data":{"orgId":"00D5g000004ABCDEAA","events":[{"eventId":"evt-load","eventType":"UPDATED","objectType":"Contact","objectId":"0035g00000AbCdEAAV","occurredAt":"2025-01-31T11:59:59.000Z","changedFields":["Description"],"record":{"Description":"'
tail='"}}]}}'
pad=$((1024 - ${#head} - ${#tail}))
printf '%s%s%s' "$head" "$(head -c "$pad" /dev/zero | tr '\0' 'x')" "$tail" > "$work/body.json"
[[ $(wc -c < "$work/body.json") -eq 1024 ]] || { echo "body is not 1024 bytes" >&2; exit 1; }

# Sign REQUESTS deliveries: signed content "id.ts.body", fixed-width ids so every record has the
# same length and `split` can cut them apart; openssl computes the HMACs, BATCH files at a time.
ts=$(date +%s)
echo "signing $REQUESTS requests..." >&2
: > "$work/sigs.txt"
for ((start = 0; start < REQUESTS; start += BATCH)); do
  end=$((start + BATCH < REQUESTS ? start + BATCH : REQUESTS))
  mkdir "$work/batch"
  awk -v s="$start" -v e="$end" -v ts="$ts" -v bodyfile="$work/body.json" 'BEGIN {
      getline body < bodyfile   # the body has no newline: one record is the whole file
      for (i = s; i < e; i++) printf "msg_load_%09d.%s.%s", i, ts, body
    }' > "$work/batch/all"
  record=$(( $(wc -c < "$work/batch/all") / (end - start) ))
  (cd "$work/batch" && split -b "$record" -a 6 -d all rec. && rm all)
  (cd "$work/batch" && ls | sort | xargs openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -r) |
    awk -v s="$start" '{ n = substr($2, 6) + 0; printf "msg_load_%09d %s\n", s + n, $1 }' >> "$work/sigs.txt"
  rm -rf "$work/batch"
done

# Signatures carry $ts: they must still be inside the listener's 300 s tolerance when wrk ends.
elapsed=$(( $(date +%s) - ts ))
if (( elapsed + DURATION > 270 )); then
  echo "signing took ${elapsed} s: the signatures would go stale during the run; lower REQUESTS" >&2
  exit 1
fi

# The listener: release build, events to a file, its stderr (address, duplicates) to another.
SFHOOKS_LOAD_SECRET="$secret" "$SFHOOKS_BIN" listen --port 0 --secret-env SFHOOKS_LOAD_SECRET \
  > "$work/events.txt" 2> "$work/listen.err" &
listener=$!
for _ in $(seq 50); do
  grep -q '^listening on ' "$work/listen.err" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/listen.err" | head -1)
[[ -n "$url" ]] || { echo "sfhooks listen did not start:" >&2; cat "$work/listen.err" >&2; exit 1; }

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency $url/hooks (1 KB bodies, $REQUESTS pre-signed ids)" >&2
BODY="$work/body.json" SIGS="$work/sigs.txt" TS="$ts" THREADS="$THREADS" \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$here/listen-load.lua" "$url/hooks"

rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$listener/status" 2>/dev/null || echo "?")
kill -INT "$listener"
wait "$listener" || true
listener=""
accepted=$(wc -l < "$work/events.txt")
duplicates=$(grep -c '^duplicate webhook-id' "$work/listen.err" || true)
rejected=$(grep -cE '^[0-9.:]+: [0-9]{3} ' "$work/listen.err" || true)
echo "listener: $accepted deliveries verified and printed, $duplicates acknowledged as duplicates, $rejected refused; resident memory at the end: $rss_kib KiB"
if (( accepted + duplicates > REQUESTS )); then
  echo "note: more requests than pre-signed ids ($REQUESTS): ids repeated; raise REQUESTS for unique ids only" >&2
fi
if (( rejected > 0 )); then
  echo "warning: refusals are not a valid load figure; first lines of the listener's log:" >&2
  grep -E '^[0-9.:]+: [0-9]{3} ' "$work/listen.err" | head -3 >&2
  exit 1
fi
