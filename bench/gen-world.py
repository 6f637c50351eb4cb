#!/usr/bin/env python3
"""A lab world of N domains under scan.example for the benchmarks (scan.sh, peers.sh): a
realistic mix on 20 shared hosting servers, in buckets of 1,000 domains (one zone file each; the
lab reads files of at most 1 MiB). Per domain i, by i % 20: 19 does not exist; 18 has no MX; 17
has an SPF syntax error (empty include:); 16 SPF +all; 15 SPF ~all; 12-14 no DMARC; even ones a
DKIM key at `default`. Writes DIR/world (world.toml, zones/) and DIR/list.txt.
Usage: gen-world.py DIR N"""
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
