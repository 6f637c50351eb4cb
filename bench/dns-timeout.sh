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
# `message` on a signed received message: DKIM, SPF, the entry hop's PTR and ARC run at the
# same time, then DMARC (which needs DKIM and SPF): two questions deep, so two budgets.
import tempfile, os
msg = ("Received: from mail.sender.example (mail.sender.example [198.51.100.25])\r\n"
       "\tby mx.receiver.example with ESMTPS id abc; Mon, 23 Nov 2026 09:00:02 +0000\r\n"
       "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=lab2026; h=from:to:subject; bh=abc=; b=def=\r\n"
       "From: Shop <info@sender.example>\r\nTo: taro@gmail.example\r\nSubject: Order\r\n"
       "Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <o-1@sender.example>\r\n\r\nThank you.\r\n")
fd, path = tempfile.mkstemp(suffix=".eml"); os.write(fd, msg.encode()); os.close(fd)
mbound = 2 * int(float(timeout_s) * 1000) + 1000
start = time.monotonic()
p = subprocess.run([binary, "message", path, "--resolver", f"127.0.0.1:{port}",
                    "--timeout", timeout_s, "--format", "json"], capture_output=True)
ms = int((time.monotonic() - start) * 1000)
os.unlink(path)
print(f"message with a dead resolver, --timeout {timeout_s}: {ms} ms (exit {p.returncode})")
print(f"bound: {mbound} ms (two questions deep + 1 s) -> ratio {ms / mbound:.3f}")
PY
