#!/usr/bin/env bash
# Speed and memory of `mxdoctor message` on bounces (release build, no network: a bounce needs
# no DNS unless --online is given):
#  1. every file of the sisimai bounce corpus (../shared/corpora/bounces/sisimai), one process
#     per file as a user would run it: median and worst wall time, worst peak RSS;
#  2. one 20 MiB DSN (a bounce returning a large original), near the 25 MiB input limit:
#     wall time and peak RSS.
# Prints each figure with its ratio to the stated bound.
# Usage: bash bench/message.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=../shared/corpora/bounces/sisimai
BOUND_FILE_MS=100     # one bounce, start to finish
BOUND_BIG_MS=3000     # the 20 MiB bounce
BOUND_RSS_MB=256      # peak memory of any run
cargo build --release --locked -q
BIN=target/release/mxdoctor
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ms=()
worst_rss=0
for f in "$CORPUS"/*.eml; do
  [ -f "$f" ] || continue
  start=$(date +%s%N)
  /usr/bin/time -f "%e %M" -o "$TMP/t" "$BIN" message "$f" --format json > /dev/null 2>&1 || true
  end=$(date +%s%N)
  read -r _ rss < <(tail -1 "$TMP/t")
  ms+=($(( (end - start) / 1000000 )))
  [ "$rss" -gt "$worst_rss" ] && worst_rss=$rss
done
sorted=$(printf '%s\n' "${ms[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
worst=$(echo "$sorted" | tail -1)
echo "corpus: ${#ms[@]} files; median ${median} ms, worst ${worst} ms per file (bound ${BOUND_FILE_MS} ms -> ratio $(python3 -c "print(round(${worst}/${BOUND_FILE_MS}, 3))")); worst peak RSS $((worst_rss / 1024)) MB"
python3 - "$TMP/big.eml" <<'PY'
import sys
body = ("x" * 76 + "\r\n") * (20 * 1024 * 1024 // 78)
open(sys.argv[1], "w").write(
    "From: MAILER-DAEMON@mx.example\r\nTo: shop@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nyour message could not be delivered\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    "Final-Recipient: rfc822; taro@example.net\r\nAction: failed\r\nStatus: 5.2.2\r\n"
    "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n\r\n"
    "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: shop@example.com\r\nSubject: big\r\n\r\n" + body + "\r\n--b--\r\n")
PY
start=$(date +%s%N)
/usr/bin/time -f "%e %M" -o "$TMP/t" "$BIN" message "$TMP/big.eml" --format json > "$TMP/big.json" 2>/dev/null || true
end=$(date +%s%N)
read -r _ rss < <(tail -1 "$TMP/t")
big_ms=$(( (end - start) / 1000000 ))
reason=$(python3 -c "import json; r=json.load(open('$TMP/big.json')); print(r['checks'][0]['findings'][0]['id'])")
echo "20 MiB bounce: ${big_ms} ms (bound ${BOUND_BIG_MS} ms -> ratio $(python3 -c "print(round(${big_ms}/${BOUND_BIG_MS}, 3))")), peak RSS $((rss / 1024)) MB (bound ${BOUND_RSS_MB} MB -> ratio $(python3 -c "print(round(${rss}/1024/${BOUND_RSS_MB}, 3))")), finding ${reason}"
