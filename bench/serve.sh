#!/usr/bin/env bash
# `mxdoctor serve` under load (issue 10): 200 concurrent API clients (wrk, one connection each)
# POST Send-mail-as checks against the seed lab for 60 s, on loopback only.
#   Phase 1, the limits as shipped (30 checks a minute per client): every client shares one
#            address, so nearly everything is the rate limiter's 429; nothing else may fail.
#   Phase 2, per-client limit lifted (--rate 1000000), in-flight cap 32: the server's real
#            check throughput; 503 is the cap holding, anything else non-2xx is an error.
# Prints throughput, p50/p99 latency, the answers by status, errors, peak RSS and RSS over
# time (flat = no leak), and the ratios against the targets (0 errors, RSS growth < 20%).
# Usage: bash bench/serve.sh [SECONDS]   (default 60). Needs wrk (apt) — installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-60}"
CONNS=200
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -q
BIN=target/release/mxdoctor

run_phase() {
  local name="$1"; shift
  local log; log=$(mktemp)
  # Reports go to an SQLite file, as in a deployment: in memory (no --store) they would grow
  # the RSS by design, hiding a leak or faking one.
  local store; store=$(mktemp -d)/reports.sqlite
  "$BIN" serve --scenario seed --listen 127.0.0.1:0 --store "$store" "$@" 2>"$log" &
  local pid=$!
  local url=""
  for _ in $(seq 100); do
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "server did not start"; cat "$log"; kill "$pid"; exit 1; }
  local rss_log; rss_log=$(mktemp)
  ( while kill -0 "$pid" 2>/dev/null; do
      awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null >> "$rss_log" || true
      sleep 5
    done ) &
  local sampler=$!
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 30s -s bench/serve.lua "$url/api/v1/sendas" | grep '^RESULT')
  local peak; peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  kill "$sampler" 2>/dev/null || true
  python3 - "$name" "$out" "$peak" "$rss_log" <<'PY'
import sys
name, out, peak, rss_log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
f = dict(kv.split("=", 1) for kv in out.split()[1:])
statuses = dict(s.split("=") for s in f["statuses"].split(",") if s)
statuses = {int(k): int(v) for k, v in statuses.items()}
ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
limited = statuses.get(429, 0)
capped = statuses.get(503, 0)
errors = sum(v for k, v in statuses.items() if not (200 <= k < 300) and k not in (429, 503)) + int(f["socket_errors"])
rss = [int(x) for x in open(rss_log).read().split()]
secs = float(f["seconds"])
print(f"== {name}")
print(f"requests {f['requests']} in {secs:.0f} s: {int(f['requests'])/secs:.1f}/s; checks completed {ok} ({ok/secs:.1f}/s)")
print(f"latency p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms")
print(f"answers: {dict(sorted(statuses.items()))} (429 = rate limiter, 503 = in-flight cap)")
print(f"errors (anything else, socket errors included): {errors} -> target 0: {'met' if errors == 0 else 'MISSED'}")
if rss:
    growth = (rss[-1] - rss[1]) / rss[1] if len(rss) > 2 and rss[1] else 0.0
    print(f"RSS every 5 s (MiB): {[round(r/1024) for r in rss]}; peak {peak/1024:.0f} MiB; growth after warm-up {growth*100:.1f}% (target < 20%: {'met' if growth < 0.2 else 'MISSED'})")
PY
}

run_phase "phase 1: limits as shipped (--rate 30)" --rate 30
run_phase "phase 2: per-client limit lifted, in-flight cap 32" --rate 1000000 --max-in-flight 32
