#!/usr/bin/env bash
# `--timeout` bounds each DNS question as a whole (issue 8 item 9): with a resolver that never
# answers (a UDP socket on loopback that reads and drops; TCP closed) and --timeout 2,
# `mxdoctor ip` (PTR and six blocklists with their test points, all at once) must end near 2 s,
# not 2 s x attempts x servers. Prints the wall time and its ratio to the bound.
# Usage: bash bench/dns-timeout.sh   Traffic: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
TIMEOUT_S=2
BOUND_MS=3000   # the question's budget plus 1 s for start-up and printing
cargo build --release --locked -q
BIN=target/release/mxdoctor
python3 - "$BIN" "$TIMEOUT_S" "$BOUND_MS" <<'PY'
import socket, subprocess, sys, time, threading
binary, timeout_s, bound = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
port = sink.getsockname()[1]
def drain():
    while True:
        try:
            sink.recvfrom(4096)
        except OSError:
            return
threading.Thread(target=drain, daemon=True).start()
start = time.monotonic()
p = subprocess.run([binary, "ip", "198.51.100.7", "--resolver", f"127.0.0.1:{port}",
                    "--timeout", timeout_s, "--format", "json"], capture_output=True)
ms = int((time.monotonic() - start) * 1000)
print(f"ip with a dead resolver, --timeout {timeout_s}: {ms} ms (exit {p.returncode})")
print(f"bound: {bound} ms -> ratio {ms / bound:.3f}")
PY
