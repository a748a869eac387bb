#!/usr/bin/env bash
# Refresh the console's vendored three.js from the npm registry: scripts/vendor-three.sh [version]
# Copies the ES module build (three.module.min.js + three.core.min.js), OrbitControls and the LICENSE into
# twin/console/static/vendor/three/. OrbitControls imports the bare name 'three', which needs an import
# map (an inline script the console's CSP forbids), so the copy imports ./three.module.min.js instead.
set -euo pipefail
version="${1:-0.180.0}"
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/twin/console/static/vendor/three"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "three@$version" >/dev/null && tar xzf "three-$version.tgz")
mkdir -p "$dest"
cp "$tmp/package/build/three.module.min.js" "$tmp/package/build/three.core.min.js" "$tmp/package/LICENSE" "$dest/"
sed "s#from 'three';#from './three.module.min.js';#" \
  "$tmp/package/examples/jsm/controls/OrbitControls.js" >"$dest/OrbitControls.js"
grep -q "from './three.module.min.js';" "$dest/OrbitControls.js"
! grep -q "from 'three'" "$dest/OrbitControls.js"
echo "$version" >"$dest/VERSION"
echo "three.js $version -> $dest"
