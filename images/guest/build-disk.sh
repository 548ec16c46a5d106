#!/bin/sh
# Assembles the osctl-guest disk: usage build-disk.sh WORK OUT.qcow2
#   WORK/initramfs/  the initramfs tree (init, busybox, modules) staged by osctl
#   WORK/vmlinuz     the kernel
# Makes WORK/initrd.gz (cpio newc), a 64 MiB raw disk with one bootable FAT16 partition holding
# kernel, initrd and syslinux (installed with syslinux's mtools variant: no loop device, no
# mount, no root), the syslinux MBR, then converts it to qcow2. Host tools: cpio gzip sfdisk
# mkfs.fat mcopy syslinux qemu-img (osctl checks them before calling this).
set -eu
WORK=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
MBR=${OSCTL_SYSLINUX_MBR:-/usr/lib/syslinux/mbr/mbr.bin}
DISK_MIB=64
PART_START=2048 # sectors: the partition starts at 1 MiB

cd "$WORK"
# Fixed mtimes and owners: the same inputs give the same initrd.
find initramfs -exec touch -h -d @0 {} +
(cd initramfs && find . -print | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet) | gzip -n -9 > initrd.gz

rm -f disk.raw part.img
truncate -s ${DISK_MIB}M disk.raw
printf 'label: dos\nlabel-id: 0x6f73636c\nstart=%s, type=e, bootable\n' $PART_START | sfdisk --quiet disk.raw
truncate -s $(( (DISK_MIB - 1) * 1024 * 1024 )) part.img
mkfs.fat -F 16 -n OSCTLGUEST -i 6f73636c -h $PART_START part.img >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -i part.img vmlinuz ::/vmlinuz
mcopy -i part.img initrd.gz ::/initrd.gz
mcopy -i part.img "$HERE/syslinux.cfg" ::/syslinux.cfg
syslinux --install part.img
dd if=part.img of=disk.raw bs=512 seek=$PART_START conv=notrunc status=none
dd if="$MBR" of=disk.raw bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 -c disk.raw "$OUT"
rm -f disk.raw part.img
