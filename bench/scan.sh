#!/usr/bin/env bash
# `mxdoctor scan` speed and memory (issue 11): generates a lab world of N domains under
# scan.example with a realistic mix (correct; no DMARC; SPF ~all or +all; SPF syntax error; no MX;
# not existing) on 20 shared hosting servers, serves it with `mxdoctor lab --world`, and scans the
# list with --checks dns (MX, SPF, DKIM, DMARC, PTR of the derived IPs; --no-dnsbl, since the lab has no
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
  python3 - "$dir" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{d}/world/zones")
open(f"{d}/world/world.toml", "w").write('[world]\nname = "scan-bench"\ndescription = "generated"\n')
z = ["$ORIGIN scan.example.", "$TTL 3600",
     "@ IN SOA ns1.scan.example. h.scan.example. ( 1 3600 900 604800 300 )", "@ IN NS ns1.scan.example.",
     "ns1 IN A 192.0.2.53", '_spf IN TXT "v=spf1 ip4:192.0.2.0/24 -all"']
for h in range(20):
    z.append(f"mx{h} IN A 192.0.2.{h + 10}")
ptr = ["$ORIGIN 2.0.192.in-addr.arpa.", "$TTL 3600",
       "@ IN SOA ns1.scan.example. h.scan.example. ( 1 3600 900 604800 300 )", "@ IN NS ns1.scan.example."]
for h in range(20):
    ptr.append(f"{h + 10} IN PTR mx{h}.scan.example.")
names = []
# Domains live in buckets of 1,000 (one zone file each: the lab reads files of at most 1 MiB).
buckets = {}
for i in range(n):
    b = i // 1000
    zone = buckets.setdefault(b, [f"$ORIGIN b{b}.scan.example.", "$TTL 3600",
        f"@ IN SOA ns1.scan.example. h.scan.example. ( 1 3600 900 604800 300 )", "@ IN NS ns1.scan.example."])
    name, kind, h = f"d{i}", i % 20, i % 20
    names.append(f"{name}.b{b}.scan.example")
    if kind == 19:
        continue                                   # does not exist
    if kind != 18:
        zone.append(f"{name} IN MX 10 mx{h}.scan.example.")   # 18: no MX
    spf = {15: "v=spf1 include:_spf.scan.example ~all", 16: "v=spf1 +all",
           17: "v=spf1 include: -all"}.get(kind, "v=spf1 include:_spf.scan.example -all")
    zone.append(f'{name} IN TXT "{spf}"')
    if kind not in (12, 13, 14):
        zone.append(f'_dmarc.{name} IN TXT "v=DMARC1; p=reject"')
    if kind % 2 == 0:
        zone.append(f'default._domainkey.{name} IN TXT "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwlT"')
for b, zone in buckets.items():
    open(f"{d}/world/zones/b{b}.scan.example.zone", "w").write("\n".join(zone) + "\n")
open(f"{d}/world/zones/scan.example.zone", "w").write("\n".join(z) + "\n")
open(f"{d}/world/zones/2.0.192.in-addr.arpa.zone", "w").write("\n".join(ptr) + "\n")
open(f"{d}/list.txt", "w").write("\n".join(names) + "\n")
PY
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
