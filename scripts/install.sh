#!/usr/bin/env bash
# Installs vipkeeper from this built checkout (after `npm ci`), in the layout of the .deb
# (scripts/build-deb.sh stages the package with this same script):
#   /usr/lib/vipkeeper/           the program: dist, bin, the native addon, production node_modules,
#                                 config/ (the example and the schema), check-ipvs.sh, and node/
#                                 (a bundled Node.js, when NODE_BIN names one; see below)
#   /usr/bin/vipkeeper            the launcher (packaging/vipkeeper.sh): finds a supported node
#   /etc/vipkeeper/vipkeeper.yaml the config: the example, commented out (only if none exists)
#   /usr/lib/modules-load.d/vipkeeper.conf  loads ip_vs at boot (the unit may not load modules;
#                                 a file of that name in /etc/modules-load.d overrides it)
#   /lib/systemd/system/vipkeeper.service, vipkeeper-realserver.service (LVS real servers)
#   /usr/share/man/man8/vipkeeper.8.gz, man5/vipkeeper.yaml.5.gz, /usr/share/doc/vipkeeper/
# NODE_BIN=/path/to/node copies that Node.js into /usr/lib/vipkeeper/node/bin/node, which the
# launcher then prefers; the default is the node running this script when it is one
# self-contained binary (as from nodejs.org, the npm registry or NodeSource; Debian's own nodejs is
# a small binary on libnode and is not copied: the launcher finds it). NODE_BIN=none copies none.
# DESTDIR=/some/root installs into a staging root instead (the .deb build and the tests), and then
# leaves out what the .deb's postinst does (the keepalived_script user, systemctl daemon-reload).
set -euo pipefail
cd "$(dirname "$0")/.."
DESTDIR=${DESTDIR:-}
lib="$DESTDIR/usr/lib/vipkeeper"

[ -f dist/cli/bin.js ] || { echo "install.sh: dist/ is missing: run npm ci first" >&2; exit 1; }
[ -f native/build/Release/vipkeeper_native.node ] || { echo "install.sh: the native addon is not built: run npm ci first" >&2; exit 1; }

if [ -z "${NODE_BIN:-}" ]; then
  NODE_BIN=$(readlink -f "$(command -v node)")
  if ldd "$NODE_BIN" 2>/dev/null | grep -q libnode; then NODE_BIN=none; fi
fi

rm -rf "$lib"
mkdir -p "$lib/config" "$lib/bin" "$lib/native/build/Release" "$DESTDIR/usr/bin" "$DESTDIR/etc/vipkeeper" \
  "$DESTDIR/lib/systemd/system" "$DESTDIR/usr/lib/modules-load.d" "$DESTDIR/usr/share/man/man8" \
  "$DESTDIR/usr/share/man/man5" "$DESTDIR/usr/share/doc/vipkeeper"
cp -a package.json package-lock.json README.md LICENSE dist "$lib/"
find "$lib/dist" -name '*.map' -delete
install -m 0755 bin/vipkeeper.js "$lib/bin/"
install -m 0644 config/vipkeeper.schema.json config/vipkeeper.example.yaml "$lib/config/"
install -m 0755 config/check-ipvs.sh "$lib/check-ipvs.sh"
install -m 0644 native/build/Release/vipkeeper_native.node "$lib/native/build/Release/"
# The production packages only, as `npm ci --omit=dev` would install them, copied from this
# checkout's node_modules (no network): the lockfile says which ones are dev-only.
node scripts/prod-modules.mjs | while IFS= read -r m; do
  mkdir -p "$lib/$(dirname "$m")"
  cp -a "$m" "$lib/$m"
done
# What no production run reads: the packages' tests, docs, web pages and VCS/npm dotfiles.
find "$lib/node_modules" \( -name .npmignore -o -name .gitattributes -o -name '*.html' -o -name '*.map' \) -type f -delete
find "$lib/node_modules" -mindepth 2 -maxdepth 2 -type d \( -name test -o -name docs -o -name tools \) -exec rm -rf {} +
if [ "$NODE_BIN" != none ]; then
  install -D -m 0755 "$NODE_BIN" "$lib/node/bin/node"
  strip --strip-unneeded "$lib/node/bin/node" 2>/dev/null || true
fi
strip --strip-unneeded "$lib/native/build/Release/vipkeeper_native.node" 2>/dev/null || true

install -m 0755 packaging/vipkeeper.sh "$DESTDIR/usr/bin/vipkeeper"
install -m 0644 systemd/vipkeeper.service "$DESTDIR/lib/systemd/system/vipkeeper.service"
install -m 0644 packaging/modules-load.conf "$DESTDIR/usr/lib/modules-load.d/vipkeeper.conf"
gzip -9n < man/vipkeeper.8 > "$DESTDIR/usr/share/man/man8/vipkeeper.8.gz"
gzip -9n < man/vipkeeper.yaml.5 > "$DESTDIR/usr/share/man/man5/vipkeeper.yaml.5.gz"
install -m 0644 packaging/copyright "$DESTDIR/usr/share/doc/vipkeeper/copyright"
install -m 0644 systemd/vipkeeper-realserver.service "$DESTDIR/lib/systemd/system/vipkeeper-realserver.service"
if [ ! -e "$DESTDIR/etc/vipkeeper/vipkeeper.yaml" ]; then
  # 0600: a config may hold auth_pass and SMTP credentials.
  (umask 077 && bash packaging/commented-config.sh config/vipkeeper.example.yaml > "$DESTDIR/etc/vipkeeper/vipkeeper.yaml")
fi

if [ -z "$DESTDIR" ]; then
  sh packaging/postinst configure
  echo "installed; edit /etc/vipkeeper/vipkeeper.yaml (the example, commented out), then: systemctl enable --now vipkeeper"
else
  echo "installed into $DESTDIR"
fi
