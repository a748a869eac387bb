#!/usr/bin/env bash
# Installs the Debian packages sdf-twin needs, only when they are missing and we are root.
#   --runtime : only what `twin demo` needs (offscreen OpenGL)
#   default   : also what the tests need (headless Chromium + driver, Node for the node-opcua peer)
set -euo pipefail
want=(libosmesa6)
if [[ "${1:-}" != "--runtime" ]]; then
  want+=(chromium chromium-driver xvfb nodejs npm)
fi
missing=()
for p in "${want[@]}"; do
  if [[ "$p" == nodejs || "$p" == npm ]]; then
    command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "note: missing Debian packages (${missing[*]}); run as root or install them to enable all tests" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
