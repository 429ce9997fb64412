#!/usr/bin/env bash
# Installs vipkeeper from this built checkout (after `npm ci`):
#   /usr/lib/vipkeeper       the program (dist, bin, native addon, production node_modules)
#   /usr/bin/vipkeeper       the command
#   /etc/vipkeeper/          the config (the example is copied only if none exists)
#   /lib/systemd/system/vipkeeper.service, vipkeeper-realserver.service (LVS real servers)
# DESTDIR=/some/root installs into a staging root instead (used by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
DESTDIR=${DESTDIR:-}
lib="$DESTDIR/usr/lib/vipkeeper"

[ -f dist/cli/bin.js ] || { echo "install.sh: dist/ is missing: run npm ci first" >&2; exit 1; }

rm -rf "$lib"
mkdir -p "$lib/config" "$DESTDIR/usr/bin" "$DESTDIR/etc/vipkeeper" "$DESTDIR/lib/systemd/system"
cp -a package.json package-lock.json README.md bin dist "$lib/"
cp -a config/vipkeeper.schema.json config/vipkeeper.example.yaml "$lib/config/"
if [ -d native/build/Release ]; then
  mkdir -p "$lib/native/build/Release"
  cp -a native/build/Release/*.node "$lib/native/build/Release/"
fi
mkdir -p "$lib/node_modules" && cp -a node_modules/. "$lib/node_modules/"
# Drop the development packages (compilers, test runners) from the installed copy.
(cd "$lib" && npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts >/dev/null 2>&1) || true

ln -sfn /usr/lib/vipkeeper/bin/vipkeeper.js "$DESTDIR/usr/bin/vipkeeper"
install -m 0644 systemd/vipkeeper.service "$DESTDIR/lib/systemd/system/vipkeeper.service"
install -m 0644 systemd/vipkeeper-realserver.service "$DESTDIR/lib/systemd/system/vipkeeper-realserver.service"
if [ ! -e "$DESTDIR/etc/vipkeeper/vipkeeper.yaml" ]; then
  install -m 0600 config/vipkeeper.example.yaml "$DESTDIR/etc/vipkeeper/vipkeeper.yaml"
fi

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "installed; edit /etc/vipkeeper/vipkeeper.yaml, then: systemctl enable --now vipkeeper"
else
  echo "installed into ${DESTDIR:-/}"
fi
