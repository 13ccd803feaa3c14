#!/usr/bin/env bash
# Property-based testing of the live API against its own OpenAPI document: starts the real
# `commerce` debug binary (embedded SQLite store, port chosen by the OS, a known admin token),
# seeds one product with stock, and runs schemathesis over every operation of GET /openapi.json.
# Fails on any 5xx, any status, content type or body the document does not describe.
#
#   scripts/schemathesis.sh                # builds the binary if missing, then tests
#   scripts/schemathesis.sh --include-path-regex carts   # extra arguments go to `schemathesis run`
#
# Environment: COMMERCE_BIN (default $CARGO_TARGET_DIR/debug/commerce),
# SCHEMATHESIS_MAX_EXAMPLES (test cases per operation and phase, default 100),
# SCHEMATHESIS_SEED (default random; printed, so a failure can be replayed).
# schemathesis is installed once into a cached virtualenv; its report (JUnit XML, and the
# server's log) goes to target/artifacts/schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: a new schemathesis release may add checks or change its CLI, and the test command must
# fail only when the API changes.
SCHEMATHESIS_VERSION="4.32.5"
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/commerce/schemathesis-$SCHEMATHESIS_VERSION}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="${COMMERCE_BIN:-$TARGET_DIR/debug/commerce}"
ARTIFACTS="$TARGET_DIR/artifacts/schemathesis"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
SEED="${SCHEMATHESIS_SEED:-$RANDOM$RANDOM}"
ADMIN="schemathesis-admin-token"
# The SKU the documentation's examples name, seeded so example-driven requests reach the cart,
# checkout and order paths instead of stopping at `product_not_found`.
SKU="SKU-1"

log() { printf '\n==> %s\n' "$*"; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing $*"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing $* and cannot install it here" >&2
    exit 1
  fi
}

ensure_venv() {
  command -v curl >/dev/null 2>&1 || apt_install curl
  if [ -x "$VENV/bin/schemathesis" ]; then return 0; fi
  command -v python3 >/dev/null 2>&1 || apt_install python3
  # Debian ships venv's ensurepip in a separate package.
  python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"; then
    rm -rf "$VENV"
    echo "schemathesis could not be installed" >&2
    exit 1
  fi
}

SERVER_PID=""
DATA_DIR=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$DATA_DIR" ]; then rm -rf "$DATA_DIR"; fi
}
trap cleanup EXIT

# Starts the server on a port the OS picks (no race between choosing a free port and binding
# it) and reads the address from its start-up line.
start_server() {
  DATA_DIR="$(mktemp -d)"
  mkdir -p "$ARTIFACTS"
  HTTP_ADDR=127.0.0.1:0 DATA_DIR="$DATA_DIR" ADMIN_TOKEN="$ADMIN" PAYMENT_TIMEOUT_MS=300 \
    RUST_LOG=warn "$BIN" >"$ARTIFACTS/server.out" 2>"$ARTIFACTS/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    BASE="$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$ARTIFACTS/server.out" | head -n 1 | cut -d' ' -f3 || true)"
    if [ -n "$BASE" ]; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "the server exited:" >&2
      cat "$ARTIFACTS/server.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "the server did not start in 20 s" >&2
  exit 1
}

# One product with stock, and a shopper's session tokens: one for the routes that take one, one
# for logging out (see scripts/schemathesis.toml).
seed() {
  local admin=(-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json')
  curl -sf -X PUT "${admin[@]}" -d '{"name":"Phone","price":{"amount":19999,"currency":"USD"}}' \
    "$BASE/v1/products/$SKU" >/dev/null
  curl -sf -X POST "${admin[@]}" -d '{"quantity":1000000}' "$BASE/v1/inventory/$SKU/restock" >/dev/null
  local credentials='{"email":"schemathesis@example.com","password":"correct horse battery"}'
  if curl -sf -X POST -H 'Content-Type: application/json' -d "$credentials" "$BASE/v1/accounts" >/dev/null; then
    SHOPPER_TOKEN="$(log_in "$credentials")"
    LOGOUT_TOKEN="$(log_in "$credentials")"
  else
    echo "no account could be created: the shopper routes are tested without a valid token" >&2
    SHOPPER_TOKEN="none"
    LOGOUT_TOKEN="none"
  fi
}

log_in() {
  curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$BASE/v1/sessions" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

if [ ! -x "$BIN" ]; then
  cargo build --bin commerce
fi
ensure_venv
start_server
seed
log "schemathesis $SCHEMATHESIS_VERSION against $BASE/openapi.json (seed $SEED, $MAX_EXAMPLES examples)"
started=$SECONDS
ADMIN_TOKEN="$ADMIN" SHOPPER_TOKEN="$SHOPPER_TOKEN" LOGOUT_TOKEN="$LOGOUT_TOKEN" \
  SCHEMATHESIS_CACHE_DIR="$TARGET_DIR/schemathesis-cache" \
  "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$BASE/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --request-timeout 30 \
  --report junit --report-dir "$ARTIFACTS" \
  --no-color \
  "$@"
echo "schemathesis passed in $((SECONDS - started)) s"
