#!/usr/bin/env bash
# Load test of `sfhooks listen`, on loopback only.
#
# Starts a release build of `sfhooks listen` on 127.0.0.1 (a free port), then runs wrk for
# DURATION seconds posting 1 KB Standard Webhooks envelopes, each with its own webhook-id and a
# real v1 signature (signed ahead of time with Python's hmac, since wrk's Lua cannot do HMAC). Every
# request is therefore read, verified, checked against the replay set, parsed and printed, as in
# production. If wrk outruns the REQUESTS pre-signed ids, ids repeat: a repeat whose id is still in
# the listener's replay set (at most 100,000 ids) is acknowledged as a duplicate, an older one is
# processed again; the script prints both counts. The listener is stopped with SIGINT at the end
# (or on error).
#
# Usage:   benches/listen-load.sh [DURATION=10] [CONNECTIONS=16] [THREADS=1] [REQUESTS=400000]
# Needs:   wrk, python3, od, base64, curl and jq for TARGET nats (Debian: apt-get install -y wrk)
# Binary:  $SFHOOKS_BIN, else `cargo build --release` and target/release/sfhooks
# Targets: $TARGETS (space-separated, run one after the other on the same pre-signed requests,
#          $ROUNDS times over; default $TARGET, default sfhooks), each one of
#          sfhooks  (default) `sfhooks listen`
#          nats     `sfhooks listen --forward-to nats://` into a fresh `nats-server -js` (binary from
#                   $SFHOOKS_NATS_SERVER or .ci/install-nats.sh); prints the stream's message count
#          uvicorn  the reference receiver benches/receivers/standardwebhooks_app.py on uvicorn with
#                   httptools and uvloop (installed pinned from PyPI into target/bench-tools/py);
#                   $UVICORN_WORKERS workers (default 1)
#          node     the reference receiver benches/receivers/node_receiver.mjs on node:http
#          bare     the machine's ceiling: examples/bare_receiver.rs, hyper + HMAC and nothing else
#          The same pre-signed requests go to each, so run them one after the other in one session
#          and compare the ratios.
set -euo pipefail

DURATION=${1:-10}
CONNECTIONS=${2:-16}
THREADS=${3:-1}
REQUESTS=${4:-400000}

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
for tool in wrk python3 od base64; do
  command -v "$tool" >/dev/null || { echo "listen-load.sh: $tool not found (apt-get install -y wrk)" >&2; exit 2; }
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
  if [[ -n "${nats:-}" ]]; then kill "$nats" 2>/dev/null || true; wait "$nats" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh secret, and its key bytes in hex for the signing step.
secret=$("$SFHOOKS_BIN" secret)
hexkey=$(printf '%s' "${secret#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')

# A 1024-byte envelope with one UPDATED Contact, padded in a record field.
head='{"type":"sfhooks.events","timestamp":"2025-01-31T12:00:00.000Z","data":{"orgId":"00D5g000004ABCDEAA","events":[{"eventId":"evt-load","eventType":"UPDATED","objectType":"Contact","objectId":"0035g00000AbCdEAAV","occurredAt":"2025-01-31T11:59:59.000Z","changedFields":["Description"],"record":{"Description":"'
tail='"}}]}}'
pad=$((1024 - ${#head} - ${#tail}))
printf '%s%s%s' "$head" "$(head -c "$pad" /dev/zero | tr '\0' 'x')" "$tail" > "$work/body.json"
[[ $(wc -c < "$work/body.json") -eq 1024 ]] || { echo "body is not 1024 bytes" >&2; exit 1; }

# Sign REQUESTS deliveries: signed content "id.ts.body" with fixed-width ids; Python's hmac does
# it in seconds (spawning openssl per batch took minutes on a loaded machine, long enough for the
# first signatures to go stale).
ts=$(date +%s)
echo "signing $REQUESTS requests..." >&2
python3 - "$hexkey" "$ts" "$work/body.json" "$REQUESTS" > "$work/sigs.txt" <<'PY'
import base64, hashlib, hmac, sys
key, ts, body_file, n = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = open(body_file, "rb").read()
base = hmac.new(key, digestmod=hashlib.sha256)
out = sys.stdout
for i in range(n):
    msg_id = "msg_load_%09d" % i
    mac = base.copy()
    mac.update(("%s.%s." % (msg_id, ts)).encode())
    mac.update(body)
    out.write("%s %s\n" % (msg_id, base64.b64encode(mac.digest()).decode()))
PY

# Signatures carry $ts: they must still be inside the listener's 300 s tolerance when wrk ends.
elapsed=$(( $(date +%s) - ts ))
runs=$(( ${ROUNDS:-1} * $(wc -w <<< "${TARGETS:-x}") ))
if (( elapsed + DURATION * runs + 5 * runs > 270 )); then
  echo "signing took ${elapsed} s: the signatures would go stale during the run; lower REQUESTS" >&2
  exit 1
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listening on port $1:" >&2; cat "$work/listen.err" >&2; exit 1
}
nats=""
start_sfhooks() {
  rm -f "$work/listen.err" "$work/events.txt"
  SFHOOKS_LOAD_SECRET="$secret" "$SFHOOKS_BIN" listen --port 0 --secret-env SFHOOKS_LOAD_SECRET "$@" \
    > "$work/events.txt" 2> "$work/listen.err" &
  listener=$!
  for _ in $(seq 50); do
    grep -q '^listening on ' "$work/listen.err" 2>/dev/null && break
    sleep 0.1
  done
  url=$(sed -n 's/^listening on //p' "$work/listen.err" | head -1)
  [[ -n "$url" ]] || { echo "sfhooks listen did not start:" >&2; cat "$work/listen.err" >&2; exit 1; }
}
run_target() {
  TARGET=$1
  case "$TARGET" in
  sfhooks) start_sfhooks ;;
  nats)
    nats_bin=${SFHOOKS_NATS_SERVER:-$(bash "$root/.ci/install-nats.sh")}
    rm -rf "$work/nats"
    nats_port=$(free_port); monitor_port=$(free_port)
    "$nats_bin" -js -a 127.0.0.1 -p "$nats_port" -m "$monitor_port" -sd "$work/nats" > "$work/nats.log" 2>&1 &
    nats=$!
    wait_port "$nats_port"
    start_sfhooks --forward-to "nats://127.0.0.1:$nats_port" --nats-stream SFHOOKS_LOAD ;;
  uvicorn)
    py="${CARGO_TARGET_DIR:-$root/target}/bench-tools/py"
    if [[ ! -x "$py/bin/uvicorn" ]]; then
      python3 -m venv "$py" >&2
      "$py/bin/pip" install --quiet "uvicorn==0.54.0" "httptools==0.9.0" "uvloop==0.23.0" "standardwebhooks==1.1.0" >&2
    fi
    port=$(free_port); rm -f "$work/listen.err"
    (cd "$here/receivers" && SFHOOKS_LOAD_SECRET="$secret" exec "$py/bin/uvicorn" standardwebhooks_app:app \
      --host 127.0.0.1 --port "$port" --loop uvloop --http httptools --no-access-log \
      --workers "${UVICORN_WORKERS:-1}" --log-level warning) > /dev/null 2> "$work/listen.err" &
    listener=$!
    wait_port "$port"; url="http://127.0.0.1:$port" ;;
  bare)
    bare_bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bare_receiver"
    [[ -x "$bare_bin" ]] || (cd "$root" && cargo build --release --quiet --example bare_receiver)
    port=$(free_port); rm -f "$work/listen.err"
    SFHOOKS_LOAD_SECRET="$secret" PORT="$port" "$bare_bin" 2> "$work/listen.err" &
    listener=$!
    wait_port "$port"; url="http://127.0.0.1:$port" ;;
  node)
    port=$(free_port); rm -f "$work/listen.err"
    SFHOOKS_LOAD_SECRET="$secret" PORT="$port" node "$here/receivers/node_receiver.mjs" 2> "$work/listen.err" &
    listener=$!
    wait_port "$port"; url="http://127.0.0.1:$port" ;;
  *) echo "TARGET must be sfhooks, nats, bare, uvicorn or node" >&2; exit 2 ;;
esac

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency $url/hooks (1 KB bodies, $REQUESTS pre-signed ids)" >&2
BODY="$work/body.json" SIGS="$work/sigs.txt" TS="$ts" THREADS="$THREADS" ${WRK_TIME:+/usr/bin/time -f "wrk cpu: %U user %S sys s, %e wall"} \
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$here/listen-load.lua" "$url/hooks"

rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$listener/status" 2>/dev/null || echo "?")
if [[ -n "${WRK_TIME:-}" ]]; then
  # utime and stime of the receiver (fields 14 and 15 of /proc/PID/stat, in clock ticks).
  awk -v hz="$(getconf CLK_TCK)" '{ printf "receiver cpu: %.2f user %.2f sys s\n", $14 / hz, $15 / hz }' "/proc/$listener/stat" 2>/dev/null || true
fi
if [[ "$TARGET" == uvicorn || "$TARGET" == node || "$TARGET" == bare ]]; then
  kill -INT "$listener"; wait "$listener" || true; listener=""
  echo "$TARGET: resident memory at the end: $rss_kib KiB (non-2xx answers: see wrk's output)"
  return 0
fi
kill -INT "$listener"
wait "$listener" || true
listener=""
accepted=$(wc -l < "$work/events.txt")
duplicates=$(grep -c '^duplicate ' "$work/listen.err" || true)
rejected=$(grep -cE '^[0-9.:]+: [0-9]{3} ' "$work/listen.err" || true)
echo "listener: $accepted event lines printed, $duplicates acknowledged as duplicates, $rejected refused; resident memory at the end: $rss_kib KiB"
if [[ "$TARGET" == nats ]]; then
  grep '^JetStream: ' "$work/listen.err" || true
  stored=$(curl -s "http://127.0.0.1:$monitor_port/jsz?streams=true" | jq '[.account_details[].stream_detail[] | select(.name == "SFHOOKS_LOAD") | .state.messages] | add')
  echo "stream SFHOOKS_LOAD: $stored messages"
  kill "$nats" 2>/dev/null || true; wait "$nats" 2>/dev/null || true; nats=""
fi
if (( accepted + duplicates > REQUESTS )); then
  echo "note: more requests than pre-signed ids ($REQUESTS): ids repeated; raise REQUESTS for unique ids only" >&2
fi
if (( rejected > 0 )); then
  echo "warning: refusals are not a valid load figure; first lines of the listener's log:" >&2
  grep -E '^[0-9.:]+: [0-9]{3} ' "$work/listen.err" | head -3 >&2
  return 1
fi
}

for ((round = 1; round <= ${ROUNDS:-1}; round++)); do
  for target in ${TARGETS:-${TARGET:-sfhooks}}; do
    echo "== round $round: $target" >&2
    run_target "$target"
  done
done
