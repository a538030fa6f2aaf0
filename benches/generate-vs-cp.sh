#!/usr/bin/env bash
# `sfhooks generate` of 1,000 objects into an empty folder, next to `cp -r` of its own output, on
# tmpfs, in one hyperfine run (hyperfine from Debian: apt-get install hyperfine).
#
#   cargo build --release && benches/generate-vs-cp.sh [path/to/sfhooks]
#
# Both commands start from an empty target folder (hyperfine --prepare removes it), so the figure
# compares writing 2,078 files with rendering them and writing them.
set -euo pipefail
bin=${1:-target/release/sfhooks}
bin=$(realpath "$bin")
dir=$(mktemp -d /dev/shm/sfhooks-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
objects=$(seq -f 'Object_%04g__c' 0 999 | paste -sd, -)
"$bin" generate --objects "$objects" --callback-url https://hooks.example.com/salesforce \
  --out "$dir/source" >/dev/null
hyperfine --warmup 3 --runs "${RUNS:-30}" -N \
  --prepare "rm -rf $dir/out" \
  -n "sfhooks generate (1,000 objects)" \
  "$bin generate --objects $objects --callback-url https://hooks.example.com/salesforce --out $dir/out" \
  -n "cp -r of its output" \
  "cp -r $dir/source $dir/out"
