#!/bin/sh
# /usr/bin/vipkeeper: runs /usr/lib/vipkeeper with a supported Node.js (>= 20.10; 20, 22, 24 are
# tested), chosen in this order:
#   $VIPKEEPER_NODE                          (e.g. from /etc/default/vipkeeper, read by the unit)
#   /usr/lib/vipkeeper/node/bin/node         the bundled one (the .deb, `npm run install-service`)
#   /usr/local/lib/vipkeeper-node/bin/node   the one scripts/setup.sh installs
#   node in PATH, /usr/bin/node              when new enough
# The V8 flags are those on the first line of bin/vipkeeper.js (the npm package's command).
lib=/usr/lib/vipkeeper
main=$lib/bin/vipkeeper.js

supported() {
  [ -x "$1" ] && "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=10)?0:1)' 2>/dev/null
}

node=
if [ -n "${VIPKEEPER_NODE:-}" ]; then
  supported "$VIPKEEPER_NODE" || { echo "vipkeeper: VIPKEEPER_NODE=$VIPKEEPER_NODE is not a Node.js >= 20.10" >&2; exit 3; }
  node=$VIPKEEPER_NODE
elif [ -x "$lib/node/bin/node" ]; then
  node=$lib/node/bin/node
else
  for c in /usr/local/lib/vipkeeper-node/bin/node "$(command -v node 2>/dev/null)" /usr/bin/node; do
    if [ -n "$c" ] && supported "$c"; then node=$c; break; fi
  done
fi
if [ -z "$node" ]; then
  echo "vipkeeper: no Node.js >= 20.10 found (looked at $lib/node/bin/node, /usr/local/lib/vipkeeper-node/bin/node, node in PATH, /usr/bin/node); set VIPKEEPER_NODE" >&2
  exit 3
fi
flags=$(sed -n '1s|^#!/usr/bin/env -S node||p' "$main")
# shellcheck disable=SC2086 # the flags are words
exec "$node" $flags "$main" "$@"
