#!/bin/bash
# Step guest: the lab guest's kernel, busybox initramfs (with lckguest) and ext4 data disks, one with
# 4 KiB blocks (file pages are whole disk blocks) and one with 1 KiB blocks (the harder case: mke2fs's
# own choice for small disks, where one page spans four blocks).
# Env: LAB_STEP_OUT, LAB_BASE (dom0-base output: its kernel and busybox are the guest's), LAB_RECIPE.
set -euo pipefail
out=${LAB_STEP_OUT:?}
r=${LAB_BASE:?}/rootfs
recipe=${LAB_RECIPE:?}
kver=$(ls "$r/lib/modules" | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
gcc -O2 -Wall -static -o "$work/lckguest" "$recipe/guest/lckguest.c"

u=$work/initramfs
mkdir -p "$u"/{bin,proc,sys,dev,data,mod}
cp "$r/bin/busybox" "$work/lckguest" "$u/bin/"
install -m 0755 "$recipe/guest/init" "$u/init"
# Modules in load order: ext4 and xen-blkfront with their dependencies (crc32c is a soft dependency).
# The dom0 root's own modprobe resolves them (the build host need not have kmod).
for m in crc32c_generic ext4 xen-blkfront; do chroot "$r" modprobe -S "$kver" --show-depends "$m"; done |
  awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' >"$work/mods"
while read -r m; do
  cp "$r$m" "$u/mod/"
  basename "$m" >>"$u/mod/order"
done <"$work/mods"
(cd "$u" && find . | cpio -o -H newc --quiet | gzip -1 >"$out/initrd.gz")
cp "$r/boot/vmlinuz-$kver" "$out/vmlinuz"

mkdir -p "$work/data"
"$work/lckguest" gen "$work/data"
rm -f "$out/disk-4k.img" "$out/disk-1k.img"
mkfs.ext4 -q -b 4096 -L lckdata -d "$work/data" "$out/disk-4k.img" 256M
mkfs.ext4 -q -b 1024 -L lckdata -d "$work/data" "$out/disk-1k.img" 256M
echo "guest kernel $kver, initramfs $(du -h "$out/initrd.gz" | cut -f1), modules: $(tr '\n' ' ' <"$u/mod/order")"
