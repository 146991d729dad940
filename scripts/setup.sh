#!/usr/bin/env bash
# Installs everything esgz-fast needs on a fresh Debian 12 machine (run as root), then builds it.
#   system: libfuse2 (fuse-native's prebuild links it), fuse3 (fusermount3), the real components the
#           tests drive (docker-registry, podman, skopeo, runc), chromium for the browser test of the
#           Wasm core, curl + gzip + coreutils for the benchmarks' baselines, systemd (systemd-notify
#           for the store's readiness), python3 (the tests' sd_notify receiver; node-gyp), libnss-wrapper
#           (the TLS tests give the store process a hosts file of its own: names that are not loopback),
#           and patch, make and gcc (fuse-native rebuilt with paged readdir: scripts/fuse-native.mjs).
#   npm:    npm ci from package-lock.json (its postinstall builds fuse-native; run again here for a
#           node_modules that was already there); then `npm run build` (Wasm core + TypeScript).
# Idempotent: packages already present are skipped, so a second run costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(libfuse2 fuse3 docker-registry podman skopeo runc chromium curl ca-certificates jq git python3 attr systemd libnss-wrapper patch make gcc)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup.sh: missing packages ${missing[*]}; run as root" >&2; exit 1; fi
  echo "setup.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian docker-registry package starts a system registry on :5000; the tests start their own.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node scripts/fuse-native.mjs
npm run build
