#!/usr/bin/env bash
# mxdoctor against a peer tool, checkdmarc (PyPI), on the work both do: MX, SPF, DMARC.
# Both ask the same lab world (bench/gen-world.py) with the same injected latency per DNS answer
# (default 50 ms), through the lab's DNS on 127.0.0.53:53 (checkdmarc's -n takes port 53 only).
# Prints each tool's time for one domain and for a batch, their ratio, and what each found per
# domain with every difference listed. Targets: mxdoctor >= 20x faster on one domain, >= 200x
# on the batch, and finding at least everything checkdmarc finds on those topics.
#
# Network isolation: the measurement runs in its own network and mount namespaces (unshare),
# where only loopback exists and /etc/resolv.conf names 127.0.0.53, so neither tool (nor
# checkdmarc's MTA-STS fetch, which would dial the world's documentation addresses) can reach
# anything else. Needs root (unshare), python3-venv.
# Usage: bash bench/peers.sh [N_MXDOCTOR [N_CHECKDMARC]]   (default 1000 and 100: checkdmarc
# asks its questions one at a time and takes about 2 s a domain at 50 ms, so 1,000 would take
# over half an hour; the figure compared is domains per second).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
NPEER=${2:-100}
LATENCY=${LATENCY:-50ms}
VENV=$(realpath -m "${VENV:-target/bench-venv}")

if [ -z "${MXDOCTOR_PEERS_INSIDE:-}" ]; then
  # Outside: build, install checkdmarc, generate the world; then measure inside the namespaces.
  cargo build --release --locked -q
  if [ ! -x "$VENV/bin/checkdmarc" ]; then
    python3 -m venv "$VENV" || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q checkdmarc
  fi
  dir=$(mktemp -d)
  python3 bench/gen-world.py "$dir" "$N"
  export MXDOCTOR_PEERS_INSIDE=1 PEERS_DIR="$dir"
  status=0
  unshare --net --mount bash "$0" "$@" || status=$?
  rm -rf "$dir"
  exit $status
fi

# Inside the namespaces.
dir=$PEERS_DIR
BIN=$PWD/target/release/mxdoctor
CHECKDMARC=$VENV/bin/checkdmarc
ip link set lo up
echo "nameserver 127.0.0.53" > "$dir/resolv.conf"
mount --bind "$dir/resolv.conf" /etc/resolv.conf
"$BIN" lab --world "$dir/world" --latency "$LATENCY" --dns-listen 127.0.0.53:53 --state "$dir/lab.json" > "$dir/lab.log" 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null || true' EXIT
for _ in $(seq 600); do [ -s "$dir/lab.json" ] && break; sleep 0.5; done
head -n "$NPEER" "$dir/list.txt" > "$dir/peer-list.txt"
one=$(head -n 1 "$dir/list.txt")

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; t1=$(date +%s.%N); python3 -c "print(f'{$t1 - $t0:.3f}')"; }

echo "one domain ($one), ${LATENCY} per DNS answer, median of 3:"
m1=$(for _ in 1 2 3; do seconds "$BIN" check "$one" --lab "$dir/lab.json" --checks mx,spf,dmarc --no-dnsbl; done | sort -n | sed -n 2p)
c1=$(for _ in 1 2 3; do seconds "$CHECKDMARC" "$one" -n 127.0.0.53 --skip-tls -t 5; done | sort -n | sed -n 2p)
python3 -c "m, c = $m1, $c1; print(f'  mxdoctor {m*1000:.0f} ms, checkdmarc {c*1000:.0f} ms: {c/m:.1f}x (target >= 20x)')"

echo "batch: mxdoctor on ${N} domains, checkdmarc on the first ${NPEER}:"
mb=$(seconds "$BIN" scan "$dir/list.txt" --lab "$dir/lab.json" --checks mx,spf,dmarc --no-dnsbl --concurrency 256 --out "$dir/mxdoctor.jsonl")
cb=$(seconds "$CHECKDMARC" "$dir/peer-list.txt" -n 127.0.0.53 --skip-tls -t 5 -o "$dir/checkdmarc.json")
python3 - "$dir" "$N" "$NPEER" "$mb" "$cb" <<'PY'
import json, sys
d, n, npeer, mb, cb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ours = {}
for line in open(f"{d}/mxdoctor.jsonl"):
    r = json.loads(line)
    ours[r["target"]] = r
theirs = json.load(open(f"{d}/checkdmarc.json"))
if isinstance(theirs, dict):
    theirs = [theirs]
m_rate, c_rate = len(ours) / mb, len(theirs) / cb
print(f"  mxdoctor {len(ours)} domains in {mb:.1f} s = {m_rate:.1f}/s; checkdmarc {len(theirs)} in {cb:.1f} s "
      f"= {c_rate:.2f}/s: {m_rate / c_rate:.0f}x (target >= 200x)")

PROBLEM = ("fail", "warning", "notice")

def our_problems(r, check):
    """Our findings of warning or fail severity in one topic, or the check's error status."""
    out = []
    for c in r["checks"]:
        if c["check"] != check:
            continue
        if c["status"].get("state") == "error":
            out.append("error." + c["status"]["cause"])
        out += [f["id"] for f in c["findings"] if f["severity"] in PROBLEM]
    return out

def their_problems(t, topic):
    x = t.get(topic) or {}
    out = []
    if x.get("error"):
        out.append(x["error"])
    if topic == "mx" and not x.get("hosts"):
        out.append("no MX hosts")
    out += x.get("warnings") or []
    if topic in ("spf", "dmarc") and x.get("valid") is False and not x.get("error"):
        out.append("not valid")
    return out

import collections
rows, missed, extra = [], 0, 0
pairs = collections.Counter()
for t in theirs:
    dom = t["domain"]
    r = ours.get(dom)
    if r is None:
        rows.append((dom, "-", "mxdoctor has no report"))
        missed += 1
        continue
    for topic in ("mx", "spf", "dmarc"):
        th, us = their_problems(t, topic), our_problems(r, topic)
        if th and not us:
            missed += 1
            rows.append((dom, topic, f"only checkdmarc: {th}"))
        elif us and not th:
            extra += 1
            rows.append((dom, topic, f"only mxdoctor: {us}"))
        elif us and th:
            pairs[(topic, "; ".join(sorted(set(th)))[:90], ", ".join(sorted(set(us))))] += 1
agree = len(theirs) * 3 - missed - extra
print(f"  findings on {len(theirs)} domains x 3 topics: both agree {agree}, checkdmarc alone {missed}, mxdoctor alone {extra}")
for dom, topic, what in rows:
    print(f"    {dom:28} {topic:6} {what}")
print("  where both found a problem, what each said (domains):")
for (topic, th, us), count in sorted(pairs.items()):
    print(f"    {count:4}  {topic:6} checkdmarc: {th}\n          {'':6} mxdoctor:   {us}")
PY
