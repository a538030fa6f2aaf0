#!/usr/bin/env bash
# The receiver library (`--no-default-features`) must not pull in the generator's heavy crates.
# Fails, naming them, when any appears in `cargo tree -e normal`. Arguments replace the default
# `--no-default-features` (e.g. `--features cli` shows the check failing, as it must).
set -euo pipefail
cd "$(dirname "$0")/.."
FORBIDDEN=(tokio hyper hyper-util reqwest tera zip quick-xml clap indicatif ring anyhow tempfile)
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--no-default-features)
tree=$(cargo tree --locked "${args[@]}" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
found=()
for name in "${FORBIDDEN[@]}"; do
    if grep -qx -- "$name" <<<"$tree"; then found+=("$name"); fi
done
if [ ${#found[@]} -gt 0 ]; then
    echo "cargo tree ${args[*]} -e normal lists crates the receiver library must not need: ${found[*]}" >&2
    exit 1
fi
echo "cargo tree ${args[*]} -e normal: none of ${FORBIDDEN[*]}"
