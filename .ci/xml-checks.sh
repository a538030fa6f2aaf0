#!/usr/bin/env bash
# Proves every XML file sfhooks ships is valid against the Metadata API schema (issue 3):
# builds the deploy and uninstall zips for every scenario, generates each scenario's source tree,
# validates all of them with .ci/xml-schema-check.py, then shows the check fails on the
# deliberately invalid files in fixtures/package/invalid/.
#
# The schema comes from ../shared/salesforce/metadata-63.0.wsdl at run time; where that file is
# absent the check prints "skipped: WSDL not found at ..." and this script passes.
#
# Usage: .ci/xml-checks.sh [path/to/sfhooks]   (default: target/debug/sfhooks)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/target/debug/sfhooks}"
check="$root/.ci/xml-schema-check.py"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ ! -x "$bin" ]]; then
  (cd "$root" && cargo build --quiet --bin sfhooks)
fi

# A throwaway secret for the check only: 32 random bytes, never printed.
SFHOOKS_SECRET="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
export SFHOOKS_SECRET

build() { # name, cwd, config args...
  local name="$1" cwd="$2"
  shift 2
  (cd "$cwd" && "$bin" package "$@" --out "$work/$name.zip")
  (cd "$cwd" && "$bin" package "$@" --uninstall --out "$work/$name-uninstall.zip")
  (cd "$cwd" && "$bin" generate "$@" --out "$work/$name-source" >/dev/null)
}

build flags "$root" --objects Contact,Account --callback-url https://hooks.example.com/salesforce
for toml in "$root"/fixtures/scenarios/*/sfhooks.toml; do
  [[ -f "$toml" ]] || continue
  dir="$(dirname "$toml")"
  build "$(basename "$dir")" "$dir" --config sfhooks.toml
done

python3 "$check" "$work"
python3 "$check" --expect-invalid "$root/fixtures/package/invalid"
