#!/usr/bin/env bash
# Builds vipkeeper_<version>_<arch>.deb with dpkg-deb from this built checkout (after `npm ci`):
# stages the files with scripts/install.sh (the layout `npm run install-service` uses), bundles the
# first Node.js in scripts/node-versions as /usr/lib/vipkeeper/node (why: README, "Debian
# package"), and adds the maintainer scripts from packaging/.
#   bash scripts/build-deb.sh [-o OUTDIR] [--fast]
# --fast compresses with gzip -1 instead of xz (for the tests: same contents, quicker to build).
# Needs dpkg-deb (dpkg) and, when the bundled Node.js is not already in .cache/node/ or in PATH,
# npm to fetch it from the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.
compress=(-Zxz -z6)
while [ $# -gt 0 ]; do
  case $1 in
    -o) out=$2; shift 2 ;;
    --fast) compress=(-Zgzip -z1); shift ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

version=$(node -p 'require("./package.json").version')
case "$(uname -m)" in
  x86_64) arch=amd64 node_arch=x64 ;;
  aarch64) arch=arm64 node_arch=arm64 ;;
  *) echo "build-deb.sh: no Node.js build to bundle for $(uname -m)" >&2; exit 1 ;;
esac
node_version=$(grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' scripts/node-versions | head -1)

# The Node.js to bundle: .cache/node/v$node_version (scripts/setup.sh), the node in PATH when it
# is that version and self-contained, or fetched now.
node_bin=.cache/node/v$node_version/bin/node
if [ "$("$node_bin" --version 2>/dev/null)" != "v$node_version" ]; then
  node_bin=$(readlink -f "$(command -v node)")
  if [ "$("$node_bin" --version)" != "v$node_version" ] || ldd "$node_bin" | grep -q libnode; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-$node_arch@$node_version" >/dev/null)
    mkdir -p ".cache/node/v$node_version"
    tar -xzf "$tmp"/*.tgz -C ".cache/node/v$node_version" --strip-components=1 --no-same-owner package/bin/node
    rm -rf "$tmp"
    node_bin=.cache/node/v$node_version/bin/node
  fi
fi

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
DESTDIR=$stage NODE_BIN=$node_bin bash scripts/install.sh >/dev/null

mkdir -p "$stage/DEBIAN"
install -m 0755 packaging/postinst packaging/prerm packaging/postrm "$stage/DEBIAN/"
printf '/etc/vipkeeper/vipkeeper.yaml\n' > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: vipkeeper
Version: $version
Architecture: $arch
Maintainer: vipkeeper authors <vipkeeper@localhost>
Installed-Size: $size
Depends: iproute2, passwd, libc6 (>= 2.28), libstdc++6 (>= 10)
Recommends: ipvsadm, kmod
Suggests: keepalived
Section: net
Priority: optional
Description: VRRP, health checks and IPVS for LVS directors (keepalived replacement)
 vipkeeper keeps a virtual IP and the LVS table behind it alive on a pair of
 Linux load-balancer directors: VRRP v2/v3 (wire-compatible with keepalived),
 health checks, an IPVS reconciler and BGP announcements. It reads its own
 YAML config or keepalived.conf itself, and converts one into the other.
 .
 This package bundles the Node.js $node_version runtime it is tested with.
EOF
mkdir -p "$out"
deb="$out/vipkeeper_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null
echo "$deb"
