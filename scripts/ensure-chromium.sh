#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (agent/test/status-page.world.test.ts) when it is missing.
# Idempotent: does nothing when /usr/bin/chromium exists. Uses sudo only when not root. playwright-core drives this
# system Chromium instead of downloading its own browser build, so no browser binary comes from npm.
set -euo pipefail

# TETHER_CHROMIUM overrides the path, for machines whose Chromium lives elsewhere.
CHROMIUM=${TETHER_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available; install Chromium by hand" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing, not running as root and sudo is not available" >&2
    exit 1
  fi
  SUDO=(sudo -n)
fi

echo "ensure-chromium: installing chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update >&2
"${SUDO[@]}" apt-get install -y --no-install-recommends chromium >&2

if [ ! -x "$CHROMIUM" ]; then
  # Ubuntu's `chromium` package is a snap shim; the browser tests need a real binary at this path.
  echo "ensure-chromium: apt-get finished but $CHROMIUM is not there" >&2
  exit 1
fi
