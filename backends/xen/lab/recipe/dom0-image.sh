#!/bin/bash
# Step dom0-image: configures the dom0 root from dom0-base and packs it into an ext4 disk image, with
# the Xen and dom0 kernel files QEMU boots directly.
# Env: LAB_STEP_OUT, LAB_BASE (dom0-base output), LAB_RECIPE (this dir), LAB_NODE (host node binary).
set -euo pipefail
out=${LAB_STEP_OUT:?}
base=${LAB_BASE:?}
recipe=${LAB_RECIPE:?}
r=$base/rootfs
echo dom0 >"$r/etc/hostname"
# The root is found by label: the guest data disks are virtio disks too. The three 9p shares: the project tree (read-only), the run's results (writable), the guest files.
cat >"$r/etc/fstab" <<'FSTAB'
LABEL=dom0 / ext4 rw,errors=remount-ro 0 1
lckproject /lab/project 9p trans=virtio,version=9p2000.L,msize=262144,ro,nofail 0 0
lckresults /lab/results 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
lckguest /lab/guest 9p trans=virtio,version=9p2000.L,msize=262144,ro,nofail 0 0
FSTAB
mkdir -p "$r/lab/project" "$r/lab/results" "$r/lab/guest" "$r/var/lib/lab"
chroot "$r" passwd -d root >/dev/null
printf '%s\n' 9p 9pnet 9pnet_virtio xen-blkback xen-gntdev xen-gntalloc xen-evtchn xen-privcmd loop >"$r/etc/modules"
install -m 0644 "$recipe/dom0/lab.service" "$r/etc/systemd/system/lab.service"
install -m 0755 "$recipe/dom0/lab-boot" "$r/usr/local/sbin/lab-boot"
chroot "$r" systemctl enable lab.service >/dev/null 2>&1
# Periodic maintenance has no place in a throw-away dom0 and costs boot time under emulation.
chroot "$r" systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
  e2scrub_reap.service fstrim.timer >/dev/null 2>&1
# Same distribution as the host: the host's node (and the project's koffi prebuilds) run in dom0.
install -m 0755 "$LAB_NODE" "$r/usr/local/bin/node"
kver=$(ls "$r/lib/modules" | head -n 1)
mkdir -p "$out"
cp "$r/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$r/boot/initrd.img-$kver" "$out/initrd.img"
# QEMU's -kernel wants the uncompressed multiboot ELF.
zcat "$r/boot/xen-4.17-amd64.gz" >"$out/xen.elf"
rm -f "$out/dom0.img"
mkfs.ext4 -q -L dom0 -d "$r" "$out/dom0.img" 3G
cp "$base/versions.txt" "$out/versions.txt"
echo "dom0 image $(du -h --apparent-size "$out/dom0.img" | cut -f1), kernel $kver"
