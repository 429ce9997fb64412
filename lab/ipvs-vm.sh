#!/usr/bin/env bash
# ipvs-vm.sh — builds (and, for humans, runs) the QEMU guest that vipkeeper's real-IPVS tests use.
# The host kernel here has no IP_VS and cannot load modules, so IPVS runs in Debian's own kernel in a
# throw-away VM under TCG (this host's /dev/kvm comes from kvm_pvm, which does not boot Debian's stock
# kernel: qemu either aborts setting an MSR or hangs in the decompressor, so TCG is the working path).
#
#   ipvs-vm.sh build        make $VM_DIR/vmlinuz and $VM_DIR/base.cpio.gz (skipped when up to date)
#   ipvs-vm.sh run 'CMD'    boot, run CMD under bash as root in the guest, print its output (debugging)
#   ipvs-vm.sh clean        rm -rf $VM_DIR
#
# Environment:
#   VM_DIR   cache dir (default /var/cache/vipkeeper-test-vm when writable, else /tmp/vipkeeper-test-vm);
#            it is reused by every test file and every run until an input changes
#   VM_BINS  host binaries copied into the guest with the libraries ldd lists
#
# What `build` does, from Debian packages only:
#   1. `apt-get download` the kernel that linux-image-amd64 depends on, `dpkg -x` it, `depmod -b`;
#   2. copy the wanted modules (IPVS + every scheduler + the sip persistence engine, conntrack, veth,
#      bridge, dummy, 9p over virtio) and their dependencies, in the load order
#      `modprobe --show-depends` gives;
#   3. pack an initramfs: static busybox, bash, ip, ipvsadm, node, keepalived and their libraries,
#      the modules, and an /init that mounts proc/sys/dev/tmpfs, loads the modules, mounts the
#      9p share tagged `job` read-only at /mnt/job, runs `/mnt/job/run.sh` under bash with its
#      output on the console, then powers off.
# The result is keyed by a stamp (this script, VM_BINS, the binaries' sizes and times, the kernel
# package); a concurrent build waits on a lock.
set -euo pipefail

SELF=$(readlink -f "$0")
default_dir() {
  if mkdir -p /var/cache/vipkeeper-test-vm 2>/dev/null && [ -w /var/cache/vipkeeper-test-vm ]; then
    echo /var/cache/vipkeeper-test-vm
  else
    echo /tmp/vipkeeper-test-vm
  fi
}
VM_DIR=${VM_DIR:-$(default_dir)}
# node is the host's own, wherever setup.sh put it (/usr/bin from Debian, /usr/local/bin from the registry).
HOST_NODE=$(command -v node 2>/dev/null || echo /usr/bin/node)
VM_BINS=${VM_BINS:-"/bin/bash /usr/sbin/ip /usr/sbin/ipvsadm $HOST_NODE /usr/sbin/keepalived"}
BOOT_MODULES="ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_dh ip_vs_sed ip_vs_nq ip_vs_lblc
  ip_vs_lblcr ip_vs_mh ip_vs_fo ip_vs_ovf ip_vs_ftp ip_vs_pe_sip veth bridge dummy virtio_pci 9pnet_virtio 9p"

log() { printf '[ipvs-vm] %s\n' "$*" >&2; }
die() { printf '[ipvs-vm] ERROR: %s\n' "$*" >&2; exit 1; }

need_host_tools() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || missing+=(busybox-static)
  command -v depmod >/dev/null || missing+=(kmod)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v ipvsadm >/dev/null || missing+=(ipvsadm)
  command -v keepalived >/dev/null || missing+=(keepalived)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
    log "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } ||
      die "apt-get install ${missing[*]} failed"
  fi
  local b
  for b in $VM_BINS; do [ -x "$b" ] || die "$b is missing on the host (needed inside the guest)"; done
}

kernel_package() {
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  if [ -z "$pkg" ]; then
    apt-get update -q >/dev/null 2>&1 || true
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  fi
  [ -n "$pkg" ] || die "cannot find the kernel package linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
  echo "$pkg"
}

stamp() {
  local b
  {
    sha256sum "$SELF" | cut -d' ' -f1
    echo "$VM_BINS" "$BOOT_MODULES" "$1"
    for b in $VM_BINS /bin/busybox; do stat -L -c '%n %s %Y' "$b"; done
  } | sha256sum | cut -d' ' -f1
}

copy_with_libs() {
  local bin=$1 lib
  mkdir -p "$STAGE$(dirname "$bin")"
  cp -L "$bin" "$STAGE$bin"
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$lib" ] || continue
    mkdir -p "$STAGE$(dirname "$lib")"
    [ -e "$STAGE$lib" ] || cp -L "$lib" "$STAGE$lib"
  done
}

do_build() {
  need_host_tools
  mkdir -p "$VM_DIR/deb"
  local pkg deb want
  pkg=$(kernel_package)
  want=$(stamp "$pkg")
  if [ -f "$VM_DIR/base.cpio.gz" ] && [ -f "$VM_DIR/vmlinuz" ] && [ "$(cat "$VM_DIR/stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "building the guest image in $VM_DIR (kernel $pkg)"
  deb=$(ls "$VM_DIR"/deb/"${pkg}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    log "apt-get download $pkg"
    find "$VM_DIR/deb" -name '*.deb' -delete   # an older kernel package is no longer needed
    (cd "$VM_DIR/deb" && apt-get download "$pkg" >/dev/null 2>&1) ||
      { apt-get update -q >/dev/null 2>&1; (cd "$VM_DIR/deb" && apt-get download "$pkg" >/dev/null 2>&1); } ||
      die "apt-get download $pkg failed"
    deb=$(ls "$VM_DIR"/deb/"${pkg}"_*.deb | head -1)
  fi
  rm -rf "$VM_DIR/kroot"
  dpkg -x "$deb" "$VM_DIR/kroot"
  local kver
  kver=$(ls "$VM_DIR/kroot/lib/modules" | head -1)
  depmod -b "$VM_DIR/kroot" "$kver"

  STAGE=$VM_DIR/stage
  rm -rf "$STAGE"
  mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,var/run,mnt/job,root,lab,lib/modules/"$kver"}
  cp /bin/busybox "$STAGE/bin/busybox"
  local b
  for b in $VM_BINS; do copy_with_libs "$b"; done
  local m line order=()
  declare -A seen=()
  for m in $BOOT_MODULES; do
    while read -r line; do
      case $line in insmod\ *) ;; *) continue ;; esac
      line=${line#insmod }
      line=${line%% *}
      line=${line#"$VM_DIR/kroot/lib/modules/$kver/"}
      [ -n "${seen[$line]:-}" ] && continue
      seen[$line]=1
      order+=("$line")
      mkdir -p "$STAGE/lib/modules/$kver/$(dirname "$line")"
      cp "$VM_DIR/kroot/lib/modules/$kver/$line" "$STAGE/lib/modules/$kver/$line"
    done < <(modprobe -d "$VM_DIR/kroot" -S "$kver" --show-depends "$m")
  done
  printf '%s\n' "${order[@]}" >"$STAGE/lab/modules.order"
  cp "$VM_DIR/kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$STAGE/lib/modules/$kver/" 2>/dev/null || true
  depmod -b "$STAGE" "$kver"
  echo "$kver" >"$STAGE/lab/kver"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$STAGE/etc/passwd"
  printf 'root:x:0:\n' >"$STAGE/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$STAGE/etc/hosts"
  cat >"$STAGE/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp; mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm /run/netns && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
ip link set lo up
KVER=$(cat /lab/kver); fails=""
for m in $(cat /lab/modules.order); do
  insmod "/lib/modules/$KVER/$m" 2>/dev/null || fails="$fails ${m##*/}"
done
[ -n "$fails" ] && echo "===VM-NOTE insmod failed:$fails"
mount -t 9p -o trans=virtio,version=9p2000.L,ro job /mnt/job 2>/dev/null || echo "===VM-NOTE no 9p share 'job'"
echo "===VM-BEGIN uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ -f /mnt/job/run.sh ]; then /bin/bash /mnt/job/run.sh </dev/null 2>&1; rc=$?; else echo "no /mnt/job/run.sh"; rc=127; fi
echo "===VM-END rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
INIT
  chmod +x "$STAGE/init"
  (cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$VM_DIR/base.cpio.gz.tmp")
  cp "$VM_DIR/kroot/boot/vmlinuz-$kver" "$VM_DIR/vmlinuz"
  mv "$VM_DIR/base.cpio.gz.tmp" "$VM_DIR/base.cpio.gz"
  rm -rf "$STAGE" "$VM_DIR/kroot"
  echo "$want" >"$VM_DIR/stamp"
  log "built $VM_DIR/vmlinuz ($kver) and $VM_DIR/base.cpio.gz ($(du -h "$VM_DIR/base.cpio.gz" | cut -f1))"
}

build() {
  mkdir -p "$VM_DIR"
  exec 9>"$VM_DIR/.lock"
  flock 9
  do_build
  flock -u 9
}

run_cmd() {
  build
  local job
  job=$(mktemp -d "$VM_DIR/job.XXXXXX")
  printf '%s\n' "$1" >"$job/run.sh"
  timeout "${VM_TIMEOUT:-300}" qemu-system-x86_64 -m "${VM_MEM:-1024}" -smp 1 -accel tcg -nographic -no-reboot -nic none \
    -kernel "$VM_DIR/vmlinuz" -initrd "$VM_DIR/base.cpio.gz" \
    -virtfs "local,path=$job,mount_tag=job,security_model=none,readonly=on" \
    -append 'console=ttyS0 quiet loglevel=3 panic=-1' </dev/null |
    tr -d '\r' | sed -n '/^===VM-BEGIN/,/^===VM-END/p'
  rm -rf "$job"
}

case ${1:-} in
  build) build ;;
  run) shift; [ $# -ge 1 ] || die "usage: $0 run 'CMD'"; run_cmd "$*" ;;
  clean) rm -rf "$VM_DIR" ;;
  dir) echo "$VM_DIR" ;;
  *) echo "usage: $0 build | run 'CMD' | clean | dir" >&2; exit 2 ;;
esac
