#!/usr/bin/env bash
# Makes a Debian 12 or 13 machine ready for vipkeeper's demo and tests, from its base system, as
# root: the peers and referees from Debian (keepalived, ipvsadm, tshark, nginx, dnsmasq), the
# build tools for the native addon, a supported Node.js when the machine has none, then `npm ci`
# (which compiles the TypeScript and the addon). Run again, it only checks (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages and the tests create network namespaces)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# a|b: the first of the two that the release has (Debian 13 has no nginx-light).
pkgs=(keepalived ipvsadm iproute2 tshark iputils-ping iputils-arping dnsmasq-base "nginx-light|nginx" procps
      python3 python3-aiosmtpd openssl curl make g++ ca-certificates
      qemu-system-x86 qemu-utils busybox-static cpio kmod bird2 nftables
      systemd lintian
      prometheus)  # promtool checks and unit-tests contrib/prometheus/ alert rules
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
updated=
apt_install() {
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
missing=()
for p in "${pkgs[@]}"; do
  if [[ $p == *"|"* ]]; then
    installed "${p%|*}" || installed "${p#*|}" || missing+=("$p")
  else
    installed "$p" || missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && updated=1
  for i in "${!missing[@]}"; do
    p=${missing[$i]}
    if [[ $p == *"|"* ]]; then
      if apt-cache show "${p%|*}" >/dev/null 2>&1; then missing[i]=${p%|*}; else missing[i]=${p#*|}; fi
    fi
  done
  echo "setup.sh: installing ${missing[*]}"
  # tshark asks whether non-root users may capture; the default (no) is fine.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt_install "${missing[@]}"
fi
# Debian starts these daemons on install; vipkeeper's tests start their own.
for svc in keepalived nginx bird prometheus; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

# --- Node.js ---------------------------------------------------------------------------------
# Supported: the majors in scripts/node-versions (20, 22, 24; package.json "engines"). Debian 12's
# nodejs is 18 and Debian 13's is 20, so when `node` is missing or too old this installs the first
# version listed there from the npm registry's node-linux-<arch> package (the binary the registry's
# `node` package installs) into $NODE_PREFIX, with npm from the registry's `npm` package, linked
# into /usr/local/bin. Debian's nodejs and npm serve only to fetch them and are removed afterwards.
NODE_PREFIX=/usr/local/lib/vipkeeper-node
NPM_VERSION=11.21.3
mapfile -t node_versions < <(grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' scripts/node-versions)
case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) echo "setup.sh: no Node.js build in the npm registry for $(uname -m)" >&2; exit 1 ;;
esac

# 0 when the node in PATH is >= 20.10 (the oldest supported).
node_supported() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=10)?0:1)' 2>/dev/null &&
    command -v npm >/dev/null 2>&1
}

# fetch_pkg SPEC DIR [PATH-IN-PACKAGE...]: unpack an npm registry package into DIR with `npm pack`
# (which checks the registry's integrity hash and honours the npm config: mirror, proxy, cafile).
fetch_pkg() {
  local spec=$1 dir=$2 tmp
  shift 2
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && npm pack --loglevel=error "$spec" >/dev/null); then
    echo "setup.sh: npm pack $spec failed (with npm $(npm --version 2>&1) on node $(node --version 2>&1))" >&2
    return 1
  fi
  mkdir -p "$dir"
  tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1 --no-same-owner "${@/#/package/}"
  rm -rf "$tmp"
}

ensure_node() {
  hash -r
  if node_supported; then return; fi
  local want=${node_versions[0]} bootstrap=()
  if [ -x "$NODE_PREFIX/bin/node" ] && [ "$("$NODE_PREFIX/bin/node" --version)" = "v$want" ] &&
     [ -f "$NODE_PREFIX/lib/node_modules/npm/bin/npm-cli.js" ]; then
    echo "setup.sh: linking the Node.js in $NODE_PREFIX into /usr/local/bin"
  else
    echo "setup.sh: no supported node (>= 20.10) here; installing Node.js $want and npm $NPM_VERSION into $NODE_PREFIX"
    if ! command -v npm >/dev/null 2>&1; then
      for p in nodejs npm; do installed "$p" || bootstrap+=("$p"); done
      [ ${#bootstrap[@]} -eq 0 ] || apt_install "${bootstrap[@]}"
      hash -r
    fi
    rm -rf "$NODE_PREFIX.new"
    fetch_pkg "node-linux-$node_arch@$want" "$NODE_PREFIX.new"
    fetch_pkg "npm@$NPM_VERSION" "$NODE_PREFIX.new/lib/node_modules/npm"
    rm -rf "$NODE_PREFIX" && mv "$NODE_PREFIX.new" "$NODE_PREFIX"
    if [ ${#bootstrap[@]} -gt 0 ]; then
      echo "setup.sh: removing the bootstrap ${bootstrap[*]}"
      apt-get purge -y -qq "${bootstrap[@]}" >/dev/null
      apt-get autoremove -y -qq >/dev/null
    fi
  fi
  # npm's global config: `npm install -g` puts commands in /usr/local/bin (in PATH), not under
  # $NODE_PREFIX; and npm trusts the system's CA store (with the local CAs update-ca-certificates
  # adds), as Debian's own npm does: the registry's Node.js knows only its built-in list, which
  # fails behind a TLS-intercepting proxy.
  mkdir -p "$NODE_PREFIX/etc"
  { echo "prefix=/usr/local"
    [ ! -f /etc/ssl/certs/ca-certificates.crt ] || echo "cafile=/etc/ssl/certs/ca-certificates.crt"
  } > "$NODE_PREFIX/etc/npmrc"
  mkdir -p /usr/local/bin
  ln -sfn "$NODE_PREFIX/bin/node" /usr/local/bin/node
  ln -sfn "$NODE_PREFIX/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm
  ln -sfn "$NODE_PREFIX/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx
  hash -r
  case ":$PATH:" in *:/usr/local/bin:*) ;; *) export PATH="/usr/local/bin:$PATH" ;; esac
  node_supported || { echo "setup.sh: node $(node --version 2>&1) is still not supported" >&2; exit 1; }
}

# The other supported majors, for test/node-majors.test.ts: only their node binary, in .cache/node/.
fetch_test_nodes() {
  local major v
  major=$(node -p 'process.versions.node.split(".")[0]')
  for v in "${node_versions[@]}"; do
    [ "${v%%.*}" != "$major" ] || continue
    [ "$(".cache/node/v$v/bin/node" --version 2>/dev/null)" != "v$v" ] || continue
    echo "setup.sh: fetching Node.js $v for the tests into .cache/node/v$v"
    rm -rf ".cache/node/v$v"
    fetch_pkg "node-linux-$node_arch@$v" ".cache/node/v$v" bin/node
  done
}

ensure_node
fetch_test_nodes
npm ci --no-fund --no-audit
