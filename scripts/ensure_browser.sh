#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it by executable path; it never
# downloads a browser of its own). Idempotent.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure_browser: installing Debian chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
echo "ensure_browser: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
