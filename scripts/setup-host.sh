#!/bin/sh
# Installs what the ns compute driver needs (crun, busybox-static, dropbear-bin, iproute2, nftables)
# and what reaching and checking its instances takes (openssh-client for `ssh -i key.pem`, openssl
# to verify identity documents) with apt-get, only when something is missing and only when running
# as root; then builds the driver's native helper if it is not built (a C compiler is installed for
# it). Idempotent: when all is there it checks a few paths and exits at once.
set -eu

missing=""
need() { # need <package> <path>...
  pkg=$1; shift
  for p in "$@"; do
    if [ -e "$p" ]; then return 0; fi
  done
  missing="$missing $pkg"
}
need crun /usr/bin/crun
need busybox-static /bin/busybox /usr/bin/busybox
need dropbear-bin /usr/sbin/dropbear
need iproute2 /usr/sbin/ip /sbin/ip /bin/ip
need nftables /usr/sbin/nft /sbin/nft
need openssh-client /usr/bin/ssh
need openssl /usr/bin/openssl
need gcc /usr/bin/cc

# busybox may come from the dynamically linked `busybox` package; the AMI needs the static one.
if [ -e /bin/busybox ] && command -v dpkg-query >/dev/null 2>&1; then
  if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    case "$missing" in *busybox-static*) ;; *) missing="$missing busybox-static" ;; esac
  fi
fi

native() { exec sh "$(dirname "$0")/build-native.sh"; }
[ -z "$missing" ] && native

if [ "$(id -u)" != 0 ]; then
  echo "setup-host: missing:$missing (run as root to install them; the ns driver is unavailable until then)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-host: missing:$missing and no apt-get on this host" >&2
  exit 0
fi

echo "setup-host: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y --no-install-recommends $missing >&2; then
  apt-get update >&2 && apt-get install -y --no-install-recommends $missing >&2
fi
native
