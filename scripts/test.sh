#!/usr/bin/env bash
# The README's test command: installs the real servers the interoperability suite runs
# (scripts/install-test-deps.sh), then runs every test. Traffic: loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --locked --workspace "$@"
