#!/bin/bash
# Step dom0-base: a Debian bookworm root file system with Xen from the bookworm *main* suite only.
# Why main only: bookworm-security's 4.17.7 hypervisor is built without CONFIG_SHADOW_PAGING, so PV
# guests get no log-dirty there (EOPNOTSUPP); main's 4.17.5 has it. The lab checks the version it got.
# Env: LAB_STEP_OUT (output dir), LAB_MIRROR (Debian mirror URL).
set -euo pipefail
out=${LAB_STEP_OUT:?}
mirror=${LAB_MIRROR:?}
pkgs=(
  systemd-sysv udev kmod procps util-linux iproute2 e2fsprogs initramfs-tools
  linux-image-amd64 xen-system-amd64 xen-utils-4.17
  python3-minimal   # Xen's verify-stream-v2
  libstdc++6        # the host's node binary runs in dom0
  busybox-static    # the guest's initramfs takes its busybox from here
  libxxhash0        # leanckpt's native XXH64 (else its WebAssembly build, several times slower per page)
)
rm -rf "$out/rootfs"
mkdir -p "$out"
echo "debootstrap bookworm from $mirror (a few minutes)"
debootstrap --variant=minbase --include="$(
  IFS=,
  echo "${pkgs[*]}"
)" bookworm "$out/rootfs" "$mirror" >"$out/debootstrap.log" 2>&1 || {
  tail -n 30 "$out/debootstrap.log"
  grep -h -E 'E: |W: ' "$out/rootfs/debootstrap/debootstrap.log" 2>/dev/null | tail -n 10 || true
  exit 1
}
xen=$(chroot "$out/rootfs" dpkg-query -W -f '${Version}' xen-hypervisor-4.17-amd64)
case $xen in
4.17.5*) ;;
*)
  echo "LAB-ERROR the mirror's bookworm main suite has Xen $xen, not 4.17.5: builds without shadow paging give PV guests no log-dirty"
  exit 1
  ;;
esac
kver=$(ls "$out/rootfs/lib/modules" | head -n 1)
printf 'xen %s\nkernel %s\n' "$xen" "$kver" >"$out/versions.txt"
echo "Xen $xen, dom0 kernel $kver"
