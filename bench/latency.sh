#!/usr/bin/env bash
# Does a `check` take as long as its longest chain of dependent round trips, and no longer?
# Runs `check` on the seed and good-domain worlds with 50 ms injected per DNS answer and per SMTP
# reply (`mxdoctor lab --latency`), records every question and connection (`--timeline`), and
# prints the wall time, the critical-path bound computed from the recorded steps (the longest
# chain of steps each needing the previous one's answer, and the connections to one server
# sharing its 2 slots) and their ratio. Target: ratio <= 1.15. Median of RUNS runs.
# Usage: bash bench/latency.sh [RUNS]   Traffic: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
LATENCY=${LATENCY:-50ms}
TARGET=1.15
cargo build --release --locked -q
BIN=$PWD/target/release/mxdoctor
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
for world in seed good-domain; do
  "$BIN" lab --scenario "$world" --latency "$LATENCY" --state "$dir/$world.json" > "$dir/$world.log" 2>&1 &
  pids+=($!)
done
for world in seed good-domain; do
  for _ in $(seq 100); do [ -s "$dir/$world.json" ] && break; sleep 0.1; done
done

measure() { # label, state, check arguments...
  local label=$1 state=$2; shift 2
  : > "$dir/figures"
  for _ in $(seq "$RUNS"); do
    "$BIN" check "$@" --lab "$state" --timeline 2> "$dir/tl" > /dev/null || true
    grep -E '^wall ' "$dir/tl" | awk '{print $2, $6}' >> "$dir/figures"
  done
  python3 - "$label" "$dir/figures" "$TARGET" <<'PY'
import statistics, sys
label, path, target = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [tuple(map(float, l.split())) for l in open(path) if l.strip()]
if not rows:
    sys.exit(f"{label}: no timeline printed")
wall = statistics.median(r[0] for r in rows)
bound = statistics.median(r[1] for r in rows)
ratio = statistics.median(r[0] / r[1] for r in rows)
verdict = "meets" if ratio <= target else "MISSES"
print(f"{label:55} wall {wall:6.0f} ms  bound {bound:6.0f} ms  ratio {ratio:.2f}  ({verdict} <= {target})")
PY
}

echo "check with ${LATENCY} per round trip, median of ${RUNS} runs:"
measure "seed: check hanako-shop.example --ip 203.0.113.45" "$dir/seed.json" hanako-shop.example --ip 203.0.113.45
measure "seed: check hanako-shop.example (IPs derived)" "$dir/seed.json" hanako-shop.example
measure "good-domain: check good-mail.example" "$dir/good-domain.json" good-mail.example
measure "good-domain: check good-mail.example --checks dns" "$dir/good-domain.json" good-mail.example --checks dns
echo "The last timeline drawn:"
cat "$dir/tl"
