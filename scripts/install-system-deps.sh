#!/usr/bin/env bash
# Installs the Debian packages sdf-twin needs, only when they are missing and we are root.
#   --runtime : only what `twin demo` needs (offscreen OpenGL)
#   default   : also what the tests need (headless Chromium + driver, Node for the node-opcua peer,
#               Debian's redis-server 7 built with TLS for the TLS/ACL tests; its service is not started:
#               the tests start their own processes on free ports)
set -euo pipefail
want=(libosmesa6)
if [[ "${1:-}" != "--runtime" ]]; then
  want+=(chromium chromium-driver xvfb nodejs npm redis-server)
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
# No service may start on the machine's port 6379 (tests and the demo start their own redis-server).
policy=/usr/sbin/policy-rc.d
had_policy=0; [[ -e $policy ]] && had_policy=1
[[ $had_policy -eq 1 ]] || printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[[ $had_policy -eq 1 ]] || rm -f "$policy"
if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
