#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: the real servers of the interoperability
# suite (tests/interop): Debian's Postfix, Dovecot (IMAP, POP3) and NSD, and openssl.
# The DKIM corpus test (tests/dkim_corpus.rs) needs dkimpy and PyNaCl from PyPI, as the second
# verifier and to sign its cases. The browser tests (tests/browser.rs) need Debian's Chromium,
# a Japanese font (the screenshots), Node.js and playwright-core from the npm registry
# (tests/browser/package-lock.json; no browser download).
# Idempotent: does nothing when they are already there. Needs root (apt-get).
# No service is started or enabled: the tests run private instances on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v postfix >/dev/null 2>&1 || need+=(postfix)
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-core)
[ -e /usr/lib/dovecot/imap-login ] || need+=(dovecot-imapd)
[ -e /usr/lib/dovecot/pop3-login ] || need+=(dovecot-pop3d)
command -v nsd >/dev/null 2>&1 || need+=(nsd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || need+=(fonts-ipafont-gothic)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if ! python3 -c 'import dkim, nacl' >/dev/null 2>&1; then
  echo "test dependencies: installing dkimpy and PyNaCl (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check 'dkimpy==1.1.8' 'PyNaCl>=1.5' 2>&1 | grep -v "Running pip as the 'root' user" || true
  python3 -c 'import dkim, nacl' || { echo "dkimpy/PyNaCl did not install" >&2; exit 1; }
fi
browser_modules() {
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "test dependencies: installing playwright-core (npm ci in tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
if [ ${#need[@]} -eq 0 ]; then
  browser_modules
  echo "test dependencies: present"
  exit 0
fi
echo "test dependencies: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "installing ${need[*]} needs root (or sudo)" >&2; exit 1; }
  SUDO="sudo -E"
fi
# Never start the packaged services (a policy-rc.d that denies everything while installing).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
browser_modules
echo "test dependencies: installed"
