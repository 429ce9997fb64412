#!/usr/bin/env bash
# The "from nothing" check of issue 20 (slow, minutes to an hour: not part of `npm test`). As root:
#   bash scripts/fresh-debian-check.sh [--suite bookworm|trixie] [--no-test] [--keep]
# 1. builds a Debian root with only the base system and git (mmdebstrap, variant "debootstrap":
#    Essential, required and important), from the Debian sources this machine's apt uses;
# 2. clones this repository (its committed HEAD) into it and, chrooted, runs the README's commands:
#    `bash scripts/setup.sh`, `npm run demo`, `npm test` (the last unless --no-test);
# 3. packs the npm package, installs it globally, runs `vipkeeper --version` and
#    `vipkeeper check -f <global root>/vipkeeper/config/vipkeeper.example.yaml`;
# 4. builds the .deb, installs it with apt, runs `systemd-analyze verify` on the installed unit,
#    removes it and lists what is left (only the conffile may be), then purges it.
# Each step prints "fresh-debian-check: STEP ok|FAILED (N s)"; the exit status is 1 when any failed.
# Everything happens in a private mount namespace; the root is deleted at the end unless --keep.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# A private mount namespace: the root's mounts vanish with this script, whatever happens.
if [ -z "${VIPKEEPER_FRESH_NS:-}" ]; then
  VIPKEEPER_FRESH_NS=1 exec unshare --mount --propagation private bash "$repo/scripts/fresh-debian-check.sh" "$@"
fi
suite=bookworm
run_tests=1
keep=
while [ $# -gt 0 ]; do
  case $1 in
    --suite) suite=$2; shift 2 ;;
    --no-test) run_tests=; shift ;;
    --keep) keep=1; shift ;;
    *) echo "fresh-debian-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-debian-check: run as root (mmdebstrap, chroot, network namespaces)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; }

# The Debian sources this machine uses (deb822 or one-line), for the new root's suite.
sources=$(mktemp)
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -E "s/^Suites:.*/Suites: $suite $suite-updates/" /etc/apt/sources.list.d/debian.sources |
    awk -v s="$suite" 'BEGIN{RS="";ORS="\n\n"} /debian-security/{sub(/Suites:[^\n]*/,"Suites: " s "-security")} {print}' > "$sources"
else
  echo "deb http://deb.debian.org/debian $suite main" > "$sources"
fi

root=$(mktemp -d /var/tmp/vipkeeper-fresh-XXXXXX)
cleanup() {
  for m in run/netns dev/pts dev sys proc ""; do umount -l "$root/$m" 2>/dev/null || true; done
  [ -n "$keep" ] && echo "fresh-debian-check: root kept at $root" || rm -rf "$root"
  rm -f "$sources"
}
trap cleanup EXIT

failed=0
step() { # step NAME COMMAND...: run, time, report
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "fresh-debian-check: $name ..."
  set +e
  "$@"
  rc=$?
  set -e
  if [ $rc = 0 ]; then
    echo "fresh-debian-check: $name ok ($(( $(date +%s) - t0 )) s)"
  else
    echo "fresh-debian-check: $name FAILED, exit $rc ($(( $(date +%s) - t0 )) s)"
    failed=1
  fi
  return $rc
}
extra_ca=()
[ -z "${NODE_EXTRA_CA_CERTS:-}" ] || extra_ca=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "${extra_ca[@]}" /bin/bash -c "$1"; }

step "mmdebstrap $suite (base system + git)" \
  mmdebstrap --quiet --variant=debootstrap --include=git "$suite" "$root" "$sources" || exit 1
git clone --quiet --no-hardlinks "$repo" "$root/usr/src/vipkeeper"
echo "fresh-debian-check: testing commit $(git -C "$root/usr/src/vipkeeper" rev-parse --short HEAD) on $(cat "$root/etc/debian_version")"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's own trust anchors (e.g. a TLS-intercepting proxy's CA, which the npm registry is
# reached through): the new root gets them as a real machine on this network would; setup.sh's
# ca-certificates then adds them to the system bundle, and node reads it via NODE_EXTRA_CA_CERTS.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
# The root must be a mount point: `ip netns add` (the demo, the tests) remounts / rslave.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mkdir -p "$root/run/netns"
mount -t tmpfs tmpfs "$root/run/netns"
in_root 'node --version 2>&1; npm --version 2>&1' || true

step "bash scripts/setup.sh" in_root 'cd /usr/src/vipkeeper && bash scripts/setup.sh' || exit 1
in_root 'echo "node $(node --version) at $(readlink -f "$(command -v node)"), npm $(npm --version)"'
step "npm pack + global install + vipkeeper --version + check the example" in_root '
  set -e
  cd /usr/src/vipkeeper
  tgz=$(npm pack --silent | tail -1)
  npm install -g --no-fund --no-audit "./$tgz"
  vipkeeper --version
  vipkeeper check -f "$(npm root -g)/vipkeeper/config/vipkeeper.example.yaml"
  npm uninstall -g vipkeeper >/dev/null
  rm -f "$tgz"' || true
step ".deb: build, install, systemd-analyze verify, remove leaves only the conffile, purge" in_root '
  set -e
  cd /usr/src/vipkeeper
  deb=$(bash scripts/build-deb.sh -o /tmp)
  apt-get install -y -qq "$deb" >/dev/null
  /usr/bin/vipkeeper --version
  /usr/bin/vipkeeper check -f /usr/lib/vipkeeper/config/vipkeeper.example.yaml
  getent passwd keepalived_script
  systemd-analyze verify /lib/systemd/system/vipkeeper.service
  files=$(dpkg -L vipkeeper | while read -r f; do if [ -f "$f" ] || { [ -L "$f" ] && [ ! -d "$f" ]; }; then echo "$f"; fi; done)
  apt-get remove -y -qq vipkeeper >/dev/null
  left=$(for f in $files; do if [ -e "$f" ]; then echo "$f"; fi; done)
  echo "left after remove: $left"
  [ "$left" = /etc/vipkeeper/vipkeeper.yaml ]
  [ ! -e /usr/lib/vipkeeper ] && [ ! -e /usr/bin/vipkeeper ] && [ ! -e /lib/systemd/system/vipkeeper.service ]
  apt-get purge -y -qq vipkeeper >/dev/null
  [ ! -e /etc/vipkeeper ]' || true
# On failure the demo's daemon logs (kept in its work dir, which goes with the root) are shown.
step "npm run demo" in_root 'cd /usr/src/vipkeeper && npm run demo || { for f in /tmp/vipkeeper-demo-*/*.log; do echo "== $f"; tail -n 40 "$f"; done; exit 1; }' || true
if [ -n "$run_tests" ]; then
  step "npm test" in_root 'cd /usr/src/vipkeeper && npm test' || true
fi
exit $failed
