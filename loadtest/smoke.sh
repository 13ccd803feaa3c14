#!/usr/bin/env bash
# Smoke test of the loadtest tool against the real commerce server: for each store (Postgres if
# it answers, embedded SQLite always) start a server on a free port with a fresh database, run
# short flash-sale (buy now and via cart), checkout-mix and cart-storm runs with verification and
# a zero error budget, then stop the server. Any FAIL or error exits non-zero.
#
# Usage: loadtest/smoke.sh            (debug binaries; builds them)
#        PROFILE=release loadtest/smoke.sh
#        SMOKE_SKIP_BUILD=1 loadtest/smoke.sh   (use the binaries already built)
#        PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres loadtest/smoke.sh
set -euo pipefail

cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-debug}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# Short runs: this checks that the tool and the server agree, not how fast they are.
DURATION_S="${SMOKE_DURATION_S:-3}"

# SMOKE_SKIP_BUILD=1 uses the binaries already in target/ (e.g. while the tree is mid-change).
if [ "$PROFILE" = release ]; then
  [ -n "${SMOKE_SKIP_BUILD:-}" ] || { cargo build --release --bin commerce && cargo build --release -p loadtest --bin loadtest; }
  BIN="${CARGO_TARGET_DIR:-target}/release"
else
  [ -n "${SMOKE_SKIP_BUILD:-}" ] || { cargo build --bin commerce && cargo build -p loadtest --bin loadtest; }
  BIN="${CARGO_TARGET_DIR:-target}/debug"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
DB_NAME=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$DB_NAME" ]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_server() { # $1 = DATABASE_URL or empty for SQLite in $WORK/data
  local port token
  port="$(free_port)"
  token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  if [ -n "$1" ]; then
    HTTP_ADDR="127.0.0.1:$port" DATABASE_URL="$1" ADMIN_TOKEN="$token" RUST_LOG=warn \
      "$BIN/commerce" serve >"$WORK/server.log" 2>&1 &
  else
    HTTP_ADDR="127.0.0.1:$port" DATA_DIR="$WORK/data" ADMIN_TOKEN="$token" RUST_LOG=warn \
      "$BIN/commerce" serve >"$WORK/server.log" 2>&1 &
  fi
  SERVER_PID=$!
  export ADMIN_TOKEN="$token" BASE_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    if curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; return 1; fi
    sleep 0.1
  done
  echo "server did not become ready"; cat "$WORK/server.log"; return 1
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

run_all() { # $1 = database URL for verification
  local common=(--base-url "$BASE_URL" --database-url "$1" --duration-s "$DURATION_S" --max-error-rate 0 --quiet)
  "$BIN/loadtest" flash-sale "${common[@]}" --stock 150 --burst 100 --rate 100 --json "$WORK/flash.json" --html "$WORK/flash.html"
  # The report carries the server's time per checkout step over the window, from its /metrics.
  # On Postgres it also carries the database's work per confirmed order, from Postgres's
  # counters; SQLite has no such counters and the report has none.
  python3 - "$WORK/flash.json" "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
steps = {s["step"]: s for s in report.get("checkout_steps", [])}
want = ("claim_idempotency_key", "place", "reserve", "request_shipment", "commit_stock", "confirm")
missing = [s for s in want if steps.get(s, {}).get("count", 0) < 1]
if missing:
    sys.exit(f"flash.json has no server time for the checkout steps {missing}: {steps}")
cost = report.get("db_cost")
if sys.argv[2].startswith("postgres"):
    if not cost or cost["orders"] < 1 or cost["transactions"] <= 0 or cost["rows_inserted"] <= 0 \
            or cost["wal_bytes"] <= 0:
        sys.exit(f"flash.json has no database work per order on Postgres: {cost}")
elif cost is not None:
    sys.exit(f"flash.json reports Postgres counters for a SQLite store: {cost}")
PY
  "$BIN/loadtest" flash-sale "${common[@]}" --stock 50 --concurrency 16 --via-cart
  "$BIN/loadtest" checkout-mix "${common[@]}" --skus 30 --stock-per-sku 20 --rate 40
  "$BIN/loadtest" cart-storm "${common[@]}" --rate 100
}

if psql "$PG_ADMIN_URL" -qc 'SELECT 1' >/dev/null 2>&1; then
  DB_NAME="loadtest_smoke_$(date +%s)_$$"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$DB_NAME\""
  DB_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
  echo "== smoke on Postgres ($DB_NAME)"
  start_server "$DB_URL"
  run_all "$DB_URL"
  stop_server
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)"
  DB_NAME=""
  # The store ceiling writes a fresh database migrated by the server binary: every order's rows
  # land (13 per order: key, order, line, payment, reservation, saga and seven outbox rows), no
  # batch fails, and the database is gone afterwards.
  echo "== smoke of the store ceiling on Postgres"
  store_dbs="SELECT count(*) FROM pg_database WHERE datname LIKE 'loadtest\\_%\\_store\\_ceiling'"
  store_dbs_before="$(psql "$PG_ADMIN_URL" -Atc "$store_dbs")"
  "$BIN/loadtest" bench --engines store-ceiling --commerce-bin "$BIN/commerce" \
    --postgres-url "$PG_ADMIN_URL" --duration-s 2 --warmup-s 0.5 --store-batch 50 --quiet \
    --log-dir "$WORK/bench" --json "$WORK/store.json" >"$WORK/store.txt"
  python3 - "$WORK/store.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
store = next((e["store"] for e in report["engines"] if e.get("store")), None)
if not store or store["orders"] < 50 or store["failed_batches"] != 0:
    sys.exit(f"the store ceiling wrote no orders, or failed batches: {store}")
cost = store.get("db_cost")
# A warm-up batch committing just after the first reading adds its rows, never fewer.
if not cost or not 13.0 <= cost["rows_inserted"] <= 16.0 or cost["wal_bytes"] <= 0:
    sys.exit(f"the store ceiling's rows per order are not a confirmed order's 13: {cost}")
PY
  if [ "$(psql "$PG_ADMIN_URL" -Atc "$store_dbs")" != "$store_dbs_before" ]; then
    echo "the store ceiling left its database behind"; exit 1
  fi
else
  echo "== Postgres at $PG_ADMIN_URL does not answer: Postgres smoke skipped"
fi

echo "== smoke on embedded SQLite ($WORK/data)"
mkdir -p "$WORK/data"
start_server ""
run_all "sqlite://$WORK/data/commerce.db"
stop_server
echo "loadtest smoke: all runs passed"
