#!/usr/bin/env bash
# Builds a Node base image without pulling one: a minimal Debian bookworm made by debootstrap from the Debian
# mirror of this machine's apt sources, with this machine's node and npm copied in where the official
# node:20-bookworm-slim image keeps them (/usr/local/bin, /usr/local/lib/node_modules/npm) and its `node`
# user (uid/gid 1000), then `docker import`ed. The Dockerfile builds against it with
# `--build-arg BASE=gameday-base:offline`; in a real deployment BASE stays the official image.
#
#   deploy/docker/offline-base.sh [IMAGE]        (default gameday-base:offline)
#   deploy/docker/offline-base.sh --rootfs-only  only make the root filesystem tar (no Docker daemon needed;
#                                                scripts/run-tests.js does this before a suite that imports it)
#
# Needs root, debootstrap and a Docker daemon that answers on the default socket (the tests start one with
# test/support/docker.ts). The root filesystem tar is kept in the git-ignored tools dir
# (.tools/offline-base/, or GAMEDAY_OFFLINE_BASE_DIR) and reused: debootstrap runs once per node version (and version of this script); an
# image already present is left as it is.
set -euo pipefail

rootfs_only=false
if [ "${1:-}" = --rootfs-only ]; then
  rootfs_only=true
  shift
fi
image=${1:-gameday-base:offline}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${GAMEDAY_OFFLINE_BASE_DIR:-$root/.tools/offline-base}
docker=/usr/bin/docker # Debian's client, matching its daemon (as test/support/docker.ts)
[ -x "$docker" ] || docker=docker

if ! $rootfs_only && "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "[offline-base] $image is already present" >&2
  exit 0
fi

node_bin=$(command -v node)
node_version=$("$node_bin" --version)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
# Made again when node, this script or the trust store changes.
inputs=$(cat "$0" /etc/ssl/certs/ca-certificates.crt | sha256sum | cut -c1-12)
tar_file="$cache/bookworm-node-$node_version-$inputs.tar"

# The mirror this machine's apt uses (deb822 sources first, then a one-line sources.list).
mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
    grep -v -- '-security' | grep '/debian$' | head -n 1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep '/debian$' | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

if [ ! -f "$tar_file" ]; then
  command -v debootstrap >/dev/null || {
    echo "[offline-base] debootstrap is missing: apt-get install debootstrap" >&2
    exit 1
  }
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.rootfs-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"
  url=$(mirror)
  echo "[offline-base] debootstrap bookworm (minbase) from $url" >&2
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$url" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    exit 1
  }
  # What an image needs no more of: package lists, caches, docs (as the official slim images do).
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # This machine's trust store (it reaches the package registries through a TLS-inspecting proxy whose CA is
  # there), so npm in a build on this base trusts what npm on this machine trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$rootfs" /usr/local/bin/node --version >/dev/null # the copied binary runs on this Debian
  tar --numeric-owner -C "$rootfs" -cf "$tar_file.part" .
  mv "$tar_file.part" "$tar_file"
  find "$cache" -maxdepth 1 -name 'bookworm-node-*.tar' ! -name "$(basename "$tar_file")" -delete # older inputs
  echo "[offline-base] root filesystem kept in $tar_file" >&2
fi
$rootfs_only && exit 0

"$docker" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' \
  "$tar_file" "$image" >/dev/null
echo "[offline-base] imported $image (node $node_version)" >&2
