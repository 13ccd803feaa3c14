#!/usr/bin/env bash
# Runs every cargo-fuzz (libFuzzer) target of fuzz/ for a while; any crash fails the run.
#
#   ./scripts/fuzz.sh            # 20 seconds per target (what the test command runs)
#   ./scripts/fuzz.sh 3600       # an hour per target, for a real search
#   ./scripts/fuzz.sh 60 order   # only the named targets
#
# The build is cached next to CARGO_TARGET_DIR when that is set (CI keeps it outside the clone),
# else in fuzz/target; the corpus each run grows is kept beside it, so successive runs continue
# where the last one stopped. Crashes land in fuzz/artifacts/<target>/ with the command that
# reproduces them.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

SECONDS_PER_TARGET="${1:-20}"
shift || true
if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [seconds per target] [target...]" >&2
  exit 2
fi

# The nightly build: cargo-fuzz needs -Z flags for sanitizer coverage.
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
# No AddressSanitizer: the code under test is safe Rust, whose bugs are panics (assertions,
# overflow checks), not memory errors, and ASan would halve the executions per second.
# FUZZ_SANITIZER=address brings it back.
SANITIZER="${FUZZ_SANITIZER:-none}"

if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  STATE_DIR="$(dirname "$CARGO_TARGET_DIR")"
  export CARGO_TARGET_DIR="$STATE_DIR/fuzz-target"
  CORPUS_ROOT="$STATE_DIR/fuzz-corpus"
else
  export CARGO_TARGET_DIR="$PWD/fuzz/target"
  CORPUS_ROOT="$PWD/fuzz/corpus"
fi
LOG_DIR="$CARGO_TARGET_DIR/fuzz-logs"

ensure_fuzz_tools() {
  if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
    log "installing the $TOOLCHAIN toolchain"
    rustup toolchain install "$TOOLCHAIN" --profile minimal
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
  fi
}

ensure_fuzz_tools
cd fuzz

if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cargo +"$TOOLCHAIN" fuzz list)
fi

log "building the fuzz targets (cargo +$TOOLCHAIN fuzz build, sanitizer $SANITIZER)"
cargo +"$TOOLCHAIN" fuzz build --sanitizer "$SANITIZER"

mkdir -p "$LOG_DIR"
for target in "${TARGETS[@]}"; do
  corpus="$CORPUS_ROOT/$target"
  mkdir -p "$corpus"
  # New inputs go to the first directory (the cached corpus); the committed seeds are read only.
  dirs=("$corpus")
  if [ -d "seeds/$target" ]; then dirs+=("seeds/$target"); fi
  flags=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  if [ -f "dicts/$target.dict" ]; then flags+=(-dict="dicts/$target.dict"); fi
  log "fuzzing $target for ${SECONDS_PER_TARGET}s (corpus $corpus)"
  # libFuzzer reports every new coverage point; the log keeps that, the console gets the verdict.
  if cargo +"$TOOLCHAIN" fuzz run --sanitizer "$SANITIZER" "$target" "${dirs[@]}" -- "${flags[@]}" \
    >"$LOG_DIR/$target.log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$LOG_DIR/$target.log" || true
  else
    tail -n 80 "$LOG_DIR/$target.log"
    echo "fuzz target $target failed; its log is $LOG_DIR/$target.log, the crashing input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
log "fuzzing passed: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET}s each"
