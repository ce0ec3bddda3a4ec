#!/bin/sh
# Smoke test of a swarmfs install: builds a small payload and torrent, mounts it (serving the
# complete cache, no network), checks every file's sha256 through the mount, checks that the
# mount is read-only, then unmounts. With --mount-helper it mounts through `mount -t fuse.swarmfs`
# (needs /sbin/mount.fuse.swarmfs and root). Cleans up (unmount, temp files) even on failure.
#
#   Mount/smoke.sh [--mount-helper] [SWARMFS_BIN]
set -eu

helper=no
if [ "${1:-}" = "--mount-helper" ]; then helper=yes; shift; fi
swarmfs=${1:-${SWARMFS_BIN:-$(command -v swarmfs || echo .build/debug/swarmfs)}}
case $swarmfs in /*) ;; *) swarmfs=$(pwd)/$swarmfs ;; esac
[ -x "$swarmfs" ] || { echo "smoke: no swarmfs binary at $swarmfs" >&2; exit 2; }

work=$(mktemp -d /tmp/swarmfs-smoke.XXXXXX)
mnt=$work/mnt
cleanup() {
    if grep -q " $mnt " /proc/self/mountinfo 2>/dev/null; then
        "$swarmfs" unmount "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir -p "$work/data/smoke/sub" "$mnt"
head -c 3000000 /dev/urandom > "$work/data/smoke/big.bin"
head -c 12345 /dev/urandom > "$work/data/smoke/sub/small.bin"
: > "$work/data/smoke/empty.txt"
"$swarmfs" create "$work/data/smoke" -o "$work/smoke.torrent" --piece-length 65536 >/dev/null

if [ "$helper" = yes ]; then
    SWARMFS_BIN=$swarmfs mount -t fuse.swarmfs "$work/smoke.torrent" "$mnt" \
        -o "cache_dir=$work/data,download=none"
else
    "$swarmfs" mount "$work/smoke.torrent" "$mnt" --cache-dir "$work/data" --download none
fi

(cd "$work/data" && find smoke -type f | sort | xargs sha256sum) > "$work/expected"
(cd "$mnt" && find smoke -type f | sort | xargs sha256sum) > "$work/actual"
if ! cmp -s "$work/expected" "$work/actual"; then
    echo "smoke: FAIL: checksums differ" >&2
    diff "$work/expected" "$work/actual" >&2 || true
    exit 1
fi
if (echo x > "$mnt/smoke/new") 2>/dev/null; then
    echo "smoke: FAIL: the mount accepted a write" >&2
    exit 1
fi
"$swarmfs" status "$mnt" >/dev/null
"$swarmfs" unmount "$mnt"
if grep -q " $mnt " /proc/self/mountinfo; then
    echo "smoke: FAIL: still mounted after unmount" >&2
    exit 1
fi
echo "smoke: OK ($(wc -l < "$work/actual") files checked)"
