#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30): `bash fuzz/run.sh 600` for a long run;
# `bash fuzz/run.sh 600 message names` runs only the targets named.
# cargo-fuzz on stable Rust (RUSTC_BOOTSTRAP=1), without a sanitizer and built as users run
# mxdoctor (release: our code is safe Rust; what we look for is a panic, a hang or runaway
# memory). Not with debug assertions: mail-parser 0.11.9 has a debug_assert! that a crafted
# multipart message fires (fuzz/regressions/message/), a no-op in release builds.
# fuzz/regressions/TARGET/ holds every input that once crashed; each run replays them.
# Seeds come from the tests' data and from ../shared (read in place, never copied into the
# repository); the corpora grow under target/fuzz-corpus/. A crash stops the run with the input
# saved under fuzz/artifacts/TARGET/: keep it as a regression test, then fix.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
shift || true
only=("$@")
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
# libfuzzer-sys builds libFuzzer from C++ sources.
command -v c++ >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++; }
root="$(cd .. && pwd)"
corpus="$root/target/fuzz-corpus"
shared="$root/../shared"

seed() { # seed TARGET FILE...
  local dir="$corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/$(basename "$f" | tr -c 'A-Za-z0-9._-' _)" 2>/dev/null || true; done
}
line_seeds() { # line_seeds TARGET: one seed per line of stdin
  local dir="$corpus/$1" n=0
  mkdir -p "$dir"
  while IFS= read -r l; do n=$((n + 1)); printf '%s' "$l" > "$dir/line-$n"; done
}

# Record texts from the lab's zones, messages and bounces from ../shared and the tests.
grep -rhoE '"v=spf1[^"]*"' "$root/scenarios" | tr -d '"' | head -300 | line_seeds spf_record
grep -rhoE '"v=DMARC1[^"]*"' "$root/scenarios" | tr -d '"' | line_seeds dmarc_record
grep -rhoE '"v=STSv1[^"]*"' "$root/scenarios" | tr -d '"' | line_seeds mta_sts
grep -rhoE '"v=TLSRPTv1[^"]*"' "$root/scenarios" | tr -d '"' | line_seeds tlsrpt
grep -rhoE '"v=BIMI1[^"]*"' "$root/scenarios" | tr -d '"' | line_seeds bimi
printf '250-mx.example Hello\n250-PIPELINING\n250-STARTTLS\n250 AUTH PLAIN LOGIN\n' | { mkdir -p "$corpus/smtp_reply"; cat > "$corpus/smtp_reply/ehlo"; }
printf 'mail.example.com\n*.example.com\nmail.example.com\n' | { mkdir -p "$corpus/names"; cat > "$corpus/names/wildcard"; }
printf 'from mx.example (mx.example [192.0.2.1]) by mx.google.com with ESMTPS id x; Mon, 1 Dec 2026 00:00:00 +0000\n' \
  | { mkdir -p "$corpus/received"; cat > "$corpus/received/hop"; }
printf 'i=1; a=rsa-sha256; d=example.com; s=arc; cv=none; b=AAAA\n' | { mkdir -p "$corpus/arc"; cat > "$corpus/arc/seal"; }
printf '{"domain":"example.com","ips":["192.0.2.1"],"selectors":["google"]}' | { mkdir -p "$corpus/web_input"; cat > "$corpus/web_input/check"; }
if [ -d "$shared/corpora" ]; then
  mapfile -t mails < <(find "$shared/corpora" -type f \( -name '*.eml' -o -name '*.txt' \) -size -64k | head -400)
  seed message "${mails[@]}"
fi
mapfile -t worlds < <(find "$root/scenarios" -name world.toml)
seed world "${worlds[@]}"

targets=$(cargo fuzz list)
if [ ${#only[@]} -gt 0 ]; then
  for t in "${only[@]}"; do
    grep -qx "$t" <<<"$targets" || { echo "fuzz: no target $t (have: $(echo $targets))"; exit 2; }
  done
  targets="${only[*]}"
fi
failed=()
for t in $targets; do
  mkdir -p "$corpus/$t"
  echo "== fuzz $t for ${secs}s"
  log="$corpus/$t.log"
  extra=()
  [ -d "$PWD/regressions/$t" ] && extra=("$PWD/regressions/$t")
  if cargo fuzz run -O --sanitizer none "$t" "$corpus/$t" "${extra[@]}" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" | tr '\n' ' '; echo
  else
    grep -E "panicked|SUMMARY|ERROR|Test unit written" "$log" | head -5
    echo "fuzz target $t FAILED; the input is in fuzz/artifacts/$t/ (log: $log)"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"; exit 1
fi
echo "fuzz: every target ran ${secs}s without a crash"
