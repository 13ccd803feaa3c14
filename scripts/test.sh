#!/usr/bin/env bash
# The whole test suite, on a fresh machine: starts what it needs (Postgres), then runs format,
# lint and every test of the workspace against the real services.
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh -p domain  # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Where cargo puts binaries: CI caches it outside the clone (see .ci/run).
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing PostgreSQL"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "PostgreSQL is not reachable on 127.0.0.1:5432 and cannot be installed here" >&2
      exit 1
    fi
  fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 0.5
  done
  echo "PostgreSQL did not come up" >&2
  exit 1
}

# The Kafka client (rdkafka) builds its bundled librdkafka from C sources with `make` and a C
# compiler; the dev-broker tests drive Debian's `kcat` against it, and the SMTP notifier's test
# Debian's aiosmtpd. Installs only what is missing.
ensure_kafka_build_and_tools() {
  local missing=()
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v cc >/dev/null 2>&1 || missing+=(gcc)
  command -v perl >/dev/null 2>&1 || missing+=(perl)
  command -v kcat >/dev/null 2>&1 || missing+=(kcat)
  # The SMTP notifier's test mails through Debian's aiosmtpd (relay/tests/pipeline/smtp.rs).
  /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]} and cannot install them here" >&2
    exit 1
  fi
}

# The dashboard's browser test drives Debian's chromium with playwright-core (an npm package with
# no browser download of its own). Installs only what is missing; idempotent.
ensure_dashboard_e2e_tools() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing ${missing[*]}"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "missing ${missing[*]} and cannot install them here" >&2
      exit 1
    fi
  fi
  if [ ! -f tests/e2e/node_modules/playwright-core/package.json ]; then
    log "installing playwright-core (tests/e2e)"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Starts the real server, drives a small sale, opens GET /ops in headless chromium and checks the
# page's figures against /metrics; leaves target/artifacts/ops-dashboard.png.
run_dashboard_e2e() {
  cargo build --bin commerce
  COMMERCE_BIN="$TARGET_DIR/debug/commerce" CHROMIUM="$(command -v chromium)" \
    timeout 120 node tests/e2e/dashboard.mjs
}

# cargo-deny checks the dependency tree's licenses, bans and sources (deny.toml). Installed once
# into ~/.cargo/bin, which later runs find; `--locked` builds it with the versions it was released
# with.
ensure_cargo_deny() {
  if cargo deny --version >/dev/null 2>&1; then return 0; fi
  log "installing cargo-deny"
  cargo install --locked cargo-deny
}

drop_stale_test_databases() {
  # Tests create one database per test; a killed run leaves some behind.
  psql "$TEST_DATABASE_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname ~ '^(api|contract|relay)_[0-9a-f]{32}$'" 2>/dev/null |
    while read -r db; do psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
}

ensure_postgres
ensure_kafka_build_and_tools
drop_stale_test_databases

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# No `advisories`: its database cannot be fetched from these machines (see README.md).
log "cargo deny check licenses bans sources"
ensure_cargo_deny
cargo deny check --hide-inclusion-graph licenses bans sources

if [ "$#" -eq 0 ]; then
  log "dashboard end-to-end (headless chromium)"
  ensure_dashboard_e2e_tools
  run_dashboard_e2e
fi

log "cargo test"
TEST_LOG="$(mktemp)"
cargo test --workspace "$@" 2>&1 | tee "$TEST_LOG"

if [ "$#" -eq 0 ]; then
  # cargo test built the debug binary this starts.
  log "schemathesis: the live API against its own OpenAPI document"
  scripts/schemathesis.sh
fi

log "load tool smoke: every scenario against the real server on both stores, books verified"
# cargo test built the debug binaries this uses.
SMOKE_SKIP_BUILD=1 loadtest/smoke.sh

if [ "$#" -eq 0 ]; then
  log "fuzzing: every cargo-fuzz target for 20 s"
  scripts/fuzz.sh 20
fi

# One closing line with the totals of every cargo test binary above.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "total: %d passed, %d failed\n", passed, failed }' "$TEST_LOG"
