#!/usr/bin/env bash
# CPU cost of one zero-latency `check` of the seed domain (release), counted in instructions by
# valgrind's callgrind: repeatable for the same binary and inputs whatever else the machine is
# doing, so a CPU regression shows independent of timing noise. The lab runs in its own process
# (not counted). Prints the instruction count, its ratio to the bound, and the top functions.
# Usage: bash bench/cpu.sh   Needs valgrind (apt). Traffic: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
BOUND=30000000   # instructions for one check of the seed (with --ip, the guessed submission server, no blocklists)
command -v valgrind >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
cargo build --release --locked -q
BIN=$PWD/target/release/mxdoctor
dir=$(mktemp -d)
"$BIN" lab --scenario seed --state "$dir/lab.json" > "$dir/lab.log" 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/lab.json" ] && break; sleep 0.1; done
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$BIN" check hanako-shop.example \
  --ip 203.0.113.45 --no-dnsbl --lab "$dir/lab.json" --format json > /dev/null 2> "$dir/vg.log" || true
ir=$(grep -E '^summary:|^totals:' "$dir/cg.out" | head -1 | awk '{print $2}')
echo "check hanako-shop.example (zero latency): ${ir} instructions"
python3 -c "print(f'bound ${BOUND}: ratio {${ir}/${BOUND}:.3f}')"
callgrind_annotate "$dir/cg.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -12 || true
