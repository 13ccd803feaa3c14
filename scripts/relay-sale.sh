#!/usr/bin/env bash
# Usage: scripts/relay-sale.sh (needs a release build of commerce, wrk and Postgres on 127.0.0.1:5432;
# extra settings come from the environment, e.g. RELAY_BATCH_MAX=500).
#
# The in-process relay during a buy-now sale: orders/s, outbox rows written vs published during
# the run, and how long the backlog takes to drain afterwards.
set -euo pipefail
WRK_OUT="$(mktemp)"
BIN="${COMMERCE_BIN:-${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/release/commerce}"
DB=relay_sale_$$
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" postgres
PORT="${PORT:-18080}"
ADMIN=t
RUST_LOG=warn DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB HTTP_ADDR=127.0.0.1:$PORT ADMIN_TOKEN=$ADMIN \
  DATA_DIR="$(mktemp -d)" "$BIN" serve > /dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB" postgres' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
API=http://127.0.0.1:$PORT
curl -sf -X PUT "$API/v1/products/HOT-1" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d '{"name": "Hot", "price": {"amount": 999, "currency": "USD"}}' >/dev/null
curl -sf -X POST "$API/v1/inventory/HOT-1/restock" -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d '{"quantity": 1000000}' >/dev/null
q() { psql -h 127.0.0.1 -U postgres -Atqc "$1" "$DB"; }
before=$(q "SELECT COUNT(*) FROM outbox")
wrk -t1 -c64 -d10s -s "$(dirname "$0")/../loadtest/scripts/buy.lua" --latency "$API" > "$WRK_OUT"
written=$(( $(q "SELECT COUNT(*) FROM outbox") - before ))
pending=$(q "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
hot_pending=$(q "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND aggregate_id = 'HOT-1'")
start=$(date +%s.%N)
while [ "$(q "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")" != 0 ]; do sleep 0.2; done
drain=$(echo "$(date +%s.%N) - $start" | bc)
grep -E "Requests/sec|50%|99%" "$WRK_OUT"
echo "outbox rows written during the 10 s run: $written ($((written / 10))/s); unpublished at its end: $pending (hot SKU: $hot_pending); published during the run: $(( (written - pending) / 10 ))/s; drained ${drain}s after"
