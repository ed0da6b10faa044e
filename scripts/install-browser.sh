#!/usr/bin/env bash
# Install the system Chromium the browser test drives (Debian's `chromium` package),
# plus fonts so pages render text and emoji. For CI on a fresh Debian machine, run as root.
# Playwright's own browser download is never used.
set -euo pipefail

if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "color emoji"; then
  echo "==> /usr/bin/chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown')"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-browser: need root (or sudo) to apt-get install chromium" >&2; exit 1
  fi
fi

echo "==> installing chromium and fonts (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji >/dev/null
echo "==> installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
