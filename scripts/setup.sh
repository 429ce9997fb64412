#!/usr/bin/env bash
# Installs everything vipkeeper's demo and tests need on a fresh Debian 12 machine,
# as root: the peers and referees from Debian (keepalived, ipvsadm, tshark, nginx,
# dnsmasq), the build tools for the native addon, then `npm ci` (which compiles
# the TypeScript and the addon).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages and the tests create network namespaces)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
pkgs=(keepalived ipvsadm iproute2 tshark iputils-ping iputils-arping dnsmasq-base nginx-light procps
      python3 python3-aiosmtpd openssl curl make g++ ca-certificates
      qemu-system-x86 qemu-utils busybox-static cpio kmod bird2 nftables
      prometheus)  # promtool checks and unit-tests contrib/prometheus/ alert rules
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  apt-get update -qq
  # tshark asks whether non-root users may capture; the default (no) is fine.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these daemons on install; vipkeeper's tests start their own.
for svc in keepalived nginx bird prometheus; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

npm ci --no-fund --no-audit
