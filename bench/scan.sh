#!/usr/bin/env bash
# `mxdoctor scan` speed and memory (issue 11): generates a lab world of N domains under
# scan.example with a realistic mix (bench/gen-world.py: correct; no DMARC; SPF ~all or +all; SPF
# syntax error; no MX; not existing) on 20 shared hosting servers, serves it with `mxdoctor lab
# --world`, and scans the list with --checks dns (MX, SPF, DKIM, DMARC, PTR of the derived IPs; --no-dnsbl, since the lab has no
# blocklist zones). Prints domains/s, peak RSS (GNU time) and the ratio to the targets
# (>= 500 domains/s, <= 150 MB at 100,000 domains), for each N.
# Usage: bash bench/scan.sh [N ...]   (default: 1000 10000). Traffic: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(1000 10000)
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
cargo build --release --locked -q
BIN=$PWD/target/release/mxdoctor
for N in "${SIZES[@]}"; do
  dir=$(mktemp -d)
  python3 bench/gen-world.py "$dir" "$N"
  "$BIN" lab --world "$dir/world" --state "$dir/lab.json" > "$dir/lab.log" 2>&1 &
  lab=$!
  for _ in $(seq 600); do [ -s "$dir/lab.json" ] && break; sleep 0.5; done
  /usr/bin/time -v -o "$dir/time.txt" "$BIN" scan "$dir/list.txt" --lab "$dir/lab.json" --no-dnsbl --checks dns \
      --concurrency 64 --out "$dir/out.jsonl" --csv "$dir/out.csv" > "$dir/summary.txt" || true
  kill "$lab" 2>/dev/null || true
  python3 - "$dir" "$N" <<'PY'
import re, sys
d, n = sys.argv[1], int(sys.argv[2])
t = open(f"{d}/time.txt").read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].split()[0]
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
lines = sum(1 for _ in open(f"{d}/out.jsonl"))
rate = lines / secs
print(f"N={n}: {lines} reports in {secs:.1f} s = {rate:.0f} domains/s (target 500: ratio {rate/500:.2f}); "
      f"peak RSS {rss:.0f} MB (bound 150 MB: ratio {rss/150:.2f})")
print("  " + open(f"{d}/summary.txt").read().splitlines()[0])
PY
  rm -rf "$dir"
done
