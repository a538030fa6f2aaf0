#!/usr/bin/env bash
# Apex checks of what `sfhooks generate` writes, with the real Apex tools:
#   1. ApexLink (apex-ls CheckForIssues): type checks every scenario; 0 issues expected.
#   2. PMD 7 Apex rules, rule set .ci/pmd-ruleset.xml: 0 violations expected.
#   3. prettier --check with prettier-plugin-apex and its default options: every .cls/.trigger is
#      already formatted, for every scenario and for every prefix length (1..15).
#   4. Each check once more on fixtures/broken-apex/, where it must fail: a check that cannot
#      fail proves nothing.
# Scenarios: fixtures/scenarios/*/sfhooks.toml, generated into temporary SFDX projects together
# with the stub objects of fixtures/apexlink-stubs/ (see its README).
#
# Tools are installed into .ci/tools/ (gitignored) with pinned versions on first use.
# Needs: cargo, java 11+, node 18+ with npm.
# SFHOOKS_BIN=/path/to/sfhooks skips `cargo build --release` (for iterating on templates).
# KEEP_WORK=1 keeps the temporary projects and prints where they are.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.ci/tools"
PMD_ENGINE_VERSION=0.46.0
PRETTIER_VERSION=3.6.2
PRETTIER_APEX_VERSION=2.3.0
RULESET="$ROOT/.ci/pmd-ruleset.xml"
SCENARIOS="$ROOT/fixtures/scenarios"
STUBS="$ROOT/fixtures/apexlink-stubs"
BROKEN="$ROOT/fixtures/broken-apex"
JAVA_LIB="$TOOLS/node_modules/@salesforce/code-analyzer-pmd-engine/dist/java-lib"
PRETTIER_BIN="$TOOLS/node_modules/prettier/bin/prettier.cjs"
PRETTIER_PLUGIN="$TOOLS/node_modules/prettier-plugin-apex/dist/src/index.js"

START=$SECONDS
FAILURES=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sfhooks-apex-checks.XXXXXX")
if [[ "${KEEP_WORK:-}" == 1 ]]; then
  trap 'echo "(kept $WORK)"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
fail() {
  say "FAIL: $*"
  FAILURES+=("$*")
}

for tool in cargo java node npm; do
  command -v "$tool" >/dev/null || { echo "apex-checks: $tool is required" >&2; exit 2; }
done

# ---------------------------------------------------------------------------------------------
step "tools: .ci/tools (code-analyzer-pmd-engine $PMD_ENGINE_VERSION: PMD 7 + ApexLink jars;" \
  "prettier $PRETTIER_VERSION; prettier-plugin-apex $PRETTIER_APEX_VERSION)"
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch (e) { console.log("none") }' \
    "$TOOLS/node_modules/$1/package.json"
}
if [[ "$(installed_version @salesforce/code-analyzer-pmd-engine)" == "$PMD_ENGINE_VERSION" &&
  "$(installed_version prettier)" == "$PRETTIER_VERSION" &&
  "$(installed_version prettier-plugin-apex)" == "$PRETTIER_APEX_VERSION" ]]; then
  say "already installed"
else
  say "installing (npm)"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --loglevel=error \
    "@salesforce/code-analyzer-pmd-engine@$PMD_ENGINE_VERSION" \
    "prettier@$PRETTIER_VERSION" \
    "prettier-plugin-apex@$PRETTIER_APEX_VERSION" >/dev/null
fi
[[ -d "$JAVA_LIB" && -f "$PRETTIER_BIN" && -f "$PRETTIER_PLUGIN" ]] ||
  { echo "apex-checks: tools missing after install" >&2; exit 2; }
say "java: $(java -version 2>&1 | head -n 1)"

# ---------------------------------------------------------------------------------------------
if [[ -n "${SFHOOKS_BIN:-}" ]]; then
  step "build: skipped, SFHOOKS_BIN=$SFHOOKS_BIN"
  BIN="$SFHOOKS_BIN"
else
  step "build: cargo build --release -q"
  (cd "$ROOT" && cargo build --release -q)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/sfhooks"
fi
[[ -x "$BIN" ]] || { echo "apex-checks: no sfhooks binary at $BIN" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# An SFDX project for ApexLink: the stubs come first, so that the generated package can use
# them (ApexLink resolves a package directory against the ones listed before it).
new_project() {
  local dir=$1
  mkdir -p "$dir/stubs/main/default" "$dir/force-app/main/default"
  cp -R "$STUBS/objects" "$dir/stubs/main/default/"
  cat >"$dir/sfdx-project.json" <<'EOF'
{
  "packageDirectories": [
    { "path": "stubs" },
    { "path": "force-app", "default": true }
  ],
  "sourceApiVersion": "63.0"
}
EOF
}

step "generate: every fixtures/scenarios/*/sfhooks.toml; and, for every prefix length from 1 to" \
  "15, Contact, objects around the layout thresholds and the longest object name"
SCENARIO_NAMES=()
for toml in "$SCENARIOS"/*/sfhooks.toml; do
  name=$(basename "$(dirname "$toml")")
  project="$WORK/scenarios/$name"
  new_project "$project"
  if ! out=$("$BIN" generate --config "$toml" --out "$project/force-app/main/default" 2>&1); then
    fail "generate $name: $out"
    continue
  fi
  SCENARIO_NAMES+=("$name")
  classes=$(find "$project/force-app" -name '*.cls' | wc -l | tr -d ' ')
  triggers=$(find "$project/force-app" -name '*.trigger' | wc -l | tr -d ' ')
  say "$name: $classes classes, $triggers trigger(s)"
done
# Abcdefghijklm__c and Abcdefghijklmn__c sit on either side of the length at which the insert
# line of the trigger tests breaks; the prefix length moves the other thresholds across them.
OBJECTS=Contact,Abcdefghijklm__c,Abcdefghijklmn__c,abcdefghijklmno__A234567890123456789012345678901234567890__c
PREFIX_CHARS=Abcdefghijklmno
for n in $(seq 1 15); do
  prefix=${PREFIX_CHARS:0:$n}
  options=(--signature-scheme standard --events created,updated,deleted,undeleted)
  ((n % 2)) && options=(--signature-scheme elements --events created,updated)
  if ! out=$("$BIN" generate --objects "$OBJECTS" --prefix "$prefix" "${options[@]}" \
    --callback-url https://hooks.example.com/salesforce \
    --out "$WORK/prefixes/$prefix/force-app/main/default" 2>&1); then
    fail "generate with prefix $prefix: $out"
  fi
done
say "prefixes: 15 trees (odd lengths: elements scheme, two events), for the prettier check"

# ---------------------------------------------------------------------------------------------
# ApexLink: one run per project (each is its own workspace; their class names overlap).
# Prints the issues and returns how many there were.
APEXLINK_OUT="$WORK/apexlink.txt"
apexlink() {
  local rc=0 issues
  java -cp "$JAVA_LIB/*" io.github.apexdevtools.apexls.CheckForIssues \
    --nocache --detail unused --workspace "$1" >"$APEXLINK_OUT" 2>&1 || rc=$?
  issues=$(grep -cE '^[A-Za-z ]+: line ' "$APEXLINK_OUT" || true)
  if ((rc != 0 && issues == 0)); then issues=1; fi
  sed "s|$WORK/||; s|$ROOT/||; s|^|      |" "$APEXLINK_OUT"
  return "$issues"
}

step "ApexLink (io.github.apexdevtools.apexls.CheckForIssues --detail unused): 0 issues expected"
for name in "${SCENARIO_NAMES[@]}"; do
  count=0
  apexlink "$WORK/scenarios/$name" || count=$?
  if ((count == 0)); then say "$name: 0 issues"; else fail "ApexLink: $name: $count issue(s)"; fi
done

# ---------------------------------------------------------------------------------------------
# PMD: one run over every scenario and the broken fixture, through the PMD wrapper the
# code-analyzer engine ships (the jars have no PMD CLI). Results are split by folder.
step "PMD $(basename "$JAVA_LIB"/pmd-apex-*.jar .jar | sed 's/pmd-apex-//'), rule set" \
  ".ci/pmd-ruleset.xml: 0 violations expected"
find "$WORK/scenarios" "$BROKEN" \( -name '*.cls' -o -name '*.trigger' \) >"$WORK/pmd-files.txt"
node -e '
  const fs = require("fs");
  const [list, ruleset, out] = process.argv.slice(1);
  const files = fs.readFileSync(list, "utf8").trim().split("\n");
  fs.writeFileSync(out, JSON.stringify({
    ruleSetInputFile: ruleset,
    runDataPerLanguage: { apex: { filesToScan: files } },
  }));' "$WORK/pmd-files.txt" "$RULESET" "$WORK/pmd-input.json"
java -cp "$JAVA_LIB/*" com.salesforce.sfca.pmdwrapper.PmdWrapper run \
  "$WORK/pmd-input.json" "$WORK/pmd-results.json" >"$WORK/pmd-log.txt" 2>&1 ||
  { cat "$WORK/pmd-log.txt"; fail "PMD did not run"; }
# Prints "<violations> <errors>" for the files under a folder; the details go to stderr.
pmd_count() {
  node -e '
    const [results, prefix, root] = process.argv.slice(1);
    const r = require(results);
    const mine = (f) => f.startsWith(prefix + "/");
    const v = r.violations.filter((x) => mine(x.codeLocation.file));
    const e = r.processingErrors.filter((x) => mine(x.file));
    for (const x of v) console.error("      " + x.codeLocation.file.replace(root + "/", "") + ":" +
      x.codeLocation.startLine + " " + x.rule + ": " + x.message);
    for (const x of e) console.error("      " + x.file.replace(root + "/", "") + ": ERROR " + x.message);
    console.log(v.length + " " + e.length);' "$WORK/pmd-results.json" "$1" "$2"
}
for name in "${SCENARIO_NAMES[@]}"; do
  read -r violations errors <<<"$(pmd_count "$WORK/scenarios/$name" "$WORK/scenarios")"
  if [[ "$violations" == 0 && "$errors" == 0 ]]; then
    say "$name: 0 violations"
  else
    fail "PMD: $name: $violations violation(s), $errors processing error(s)"
  fi
done

# ---------------------------------------------------------------------------------------------
step "prettier $PRETTIER_VERSION --check, prettier-plugin-apex $PRETTIER_APEX_VERSION, default" \
  "options: every generated .cls/.trigger already formatted"
prettier() {
  (cd "$1" && node "$PRETTIER_BIN" --no-config --plugin="$PRETTIER_PLUGIN" "${@:2}")
}
# Lists the files prettier would change under a folder.
prettier_unformatted() {
  prettier "$1" --list-different '**/*.{cls,trigger}' 2>&1 || true
}
for tree in "${SCENARIO_NAMES[@]/#/scenarios/}" prefixes; do
  total=$(find "$WORK/$tree" \( -name '*.cls' -o -name '*.trigger' \) | wc -l | tr -d ' ')
  unformatted=$(prettier_unformatted "$WORK/$tree")
  if [[ -z "$unformatted" ]]; then
    say "$tree: $total files, all formatted"
  else
    fail "prettier: $tree: $(wc -l <<<"$unformatted" | tr -d ' ') of $total files not formatted"
    while read -r file; do
      say "  $tree/$file:"
      prettier "$WORK/$tree" "$file" | diff "$WORK/$tree/$file" - | head -n 20 | sed 's/^/        /' || true
    done <<<"$unformatted"
  fi
done

# ---------------------------------------------------------------------------------------------
step "broken inputs (fixtures/broken-apex): each check must fail there"
# Each tool must fail, and for the file broken for it (BrokenTypes.cls: a type error for
# ApexLink; BrokenRules.cls: rule violations for PMD; BrokenFormat.cls: layout for prettier).
count=0
apexlink "$BROKEN" || count=$?
if ((count > 0)) && grep -q 'BrokenTypes.cls' "$APEXLINK_OUT"; then
  say "ApexLink: failed with $count issue(s), BrokenTypes.cls among them, as expected"
else
  fail "ApexLink did not report BrokenTypes.cls in fixtures/broken-apex: the check cannot fail"
fi
pmd_details=$(pmd_count "$BROKEN" "$ROOT" 2>&1 >"$WORK/pmd-broken-count.txt" || true)
read -r violations errors <"$WORK/pmd-broken-count.txt"
sed 's/^/  /' <<<"$pmd_details"
if ((violations > 0)) && grep -q 'BrokenRules.cls' <<<"$pmd_details"; then
  say "PMD: failed with $violations violation(s), BrokenRules.cls among them, as expected"
else
  fail "PMD did not report BrokenRules.cls in fixtures/broken-apex: the check cannot fail"
fi
unformatted=$(prettier_unformatted "$BROKEN")
if grep -q 'BrokenFormat.cls' <<<"$unformatted"; then
  say "prettier: failed on $(tr '\n' ' ' <<<"$unformatted")as expected"
else
  fail "prettier did not flag BrokenFormat.cls in fixtures/broken-apex: the check cannot fail"
fi

# ---------------------------------------------------------------------------------------------
step "result ($((SECONDS - START)) s)"
if ((${#FAILURES[@]} > 0)); then
  for failure in "${FAILURES[@]}"; do say "FAILED: $failure"; done
  exit 1
fi
say "all Apex checks passed: ${#SCENARIO_NAMES[@]} scenarios + 15 prefix lengths;" \
  "ApexLink 0 issues, PMD 0 violations, prettier clean; every check fails on broken input"
