#!/usr/bin/env bash
# Debian packages the tests use as real parts: OpenSSH's server (test hosts in network namespaces), iproute2
# (namespaces, tc), iptables, e2fsprogs (a loop-device filesystem to fill), systemd (run as PID 1 of its own
# namespaces for the service-stop/-restart tests), stress-ng (the stress fault), docker.io (dockerd, its
# containerd and runc, and a client of the same version) with busybox-static (the test image's only binary),
# prometheus (the server behind PromQL checks, and promtool for backfilled series and alert-rule tests), chromium
# (the headless browser the HTML report is opened in, driven by playwright-core), openssl (the test CA and
# certificates of the mTLS tests), debootstrap (the Debian base of the worker image built offline by
# deploy/docker/offline-base.sh).
# Installs only what is missing; needs root and apt-get.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ip >/dev/null || need+=(iproute2)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || need+=(iptables)
command -v mkfs.ext4 >/dev/null || [ -x /usr/sbin/mkfs.ext4 ] || need+=(e2fsprogs)
command -v fallocate >/dev/null || need+=(util-linux)
command -v zgrep >/dev/null || need+=(gzip)
command -v nsenter >/dev/null || need+=(util-linux)
[ -x /lib/systemd/systemd ] || need+=(systemd)
command -v stress-ng >/dev/null || need+=(stress-ng)
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "[deps] installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
