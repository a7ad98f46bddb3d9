/**
 * PID 1 of the Debian 12 image: the Nimbus init shim, run by Debian's /bin/sh (dash).
 *
 * Why not systemd: systemd as PID 1 inside a crun container wants a writable cgroup hierarchy it
 * can delegate (on this kind of hybrid cgroup host crun only runs with the cgroup2 mount
 * unmounted, and the instance spec mounts no /sys/fs/cgroup), SIGRTMIN+3 to stop, `container=`
 * detection and a dozen units masked to boot quietly; it also costs ~1 s and tens of MiB per
 * instance. The shim boots in milliseconds on every host the ns driver runs on, and gives the
 * same contract as the minimal image: user data once, console output, EC2 stop by SIGTERM.
 * (The image is debootstrap's minbase plus the packages an AMI needs, so no init system is
 * installed at all; installing systemd-sysv later and switching the manifest's init is possible.)
 *
 * It is the shared shell init (../init-shell.ts: mounts, hostname, boot.d hooks, first-boot user
 * data, the busybox signals and the shutdown intent the driver reads), run by dash, plus what is
 * Debian's own: /dev/std{in,out,err}, /run/lock, /run/sshd and a 0755 /; on first boot a fresh
 * /etc/machine-id and SSH host keys (the image ships none, so no two instances share them) and
 * /var/lib/nimbus/authorized_keys (if the driver provides it) installed for the default user
 * `admin`; OpenSSH's sshd; user data runs in /root. The image's
 * /usr/sbin/{poweroff,halt,shutdown,reboot} send PID 1 the signals busybox's do.
 *
 * cloud-init runs its stages from here on every boot (in place of the shim's own user-data step),
 * against Nimbus's metadata service.
 */
import { renderInitScript } from '../init-shell.js';

export const DEBIAN_INIT_PATH = '/usr/sbin/nimbus-init';

export const DEBIAN_INIT_SCRIPT = renderInitScript({
  title: 'Nimbus Debian image: PID 1 (see /usr/share/doc/nimbus/README).',
  env: 'LANG=C.UTF-8',
  // glibc programs expect /dev/std{in,out,err}; sshd its privilege-separation directory.
  afterMounts: `[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mkdir -p /run/lock /run/sshd && chmod 1777 /run/lock
# / is the overlay's upper directory, which the host makes 0700: non-root users (admin, sshd's
# privilege separation) could not exec anything. Make it what the image's / is (copied up once).
[ "$(stat -c %a /)" = 755 ] || chmod 755 /`,
  osDetail: ', Debian $(cat /etc/debian_version)',
  identity: `DEFAULT_USER=admin
# Trust the CA of the API's HTTPS endpoint for instances (botocore and the AWS CLI use the system store).
if [ -s $N/ca.crt ] && [ -x /usr/sbin/update-ca-certificates ] && ! cmp -s $N/ca.crt /usr/local/share/ca-certificates/nimbus.crt; then
  mkdir -p /usr/local/share/ca-certificates && cp $N/ca.crt /usr/local/share/ca-certificates/nimbus.crt
  update-ca-certificates >/dev/null 2>&1 && say "trusting the Nimbus instance CA"
fi
grep -q '^AWS_CA_BUNDLE=' /etc/environment 2>/dev/null || echo 'AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' >> /etc/environment
export AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
if [ ! -s /etc/machine-id ]; then
  tr -d '-' < /proc/sys/kernel/random/uuid > /etc/machine-id
fi
if [ -x /usr/bin/ssh-keygen ] && ! ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1; then
  ssh-keygen -A >/dev/null 2>&1 && say "generated SSH host keys"
  for k in /etc/ssh/ssh_host_*_key.pub; do [ -e "$k" ] && ssh-keygen -l -f "$k"; done
fi
if [ -s $N/authorized_keys ] && id $DEFAULT_USER >/dev/null 2>&1; then
  home=$(getent passwd $DEFAULT_USER | cut -d: -f6)
  if [ ! -s "$home/.ssh/authorized_keys" ]; then
    mkdir -p "$home/.ssh" && cp $N/authorized_keys "$home/.ssh/authorized_keys"
    chmod 700 "$home/.ssh" && chmod 600 "$home/.ssh/authorized_keys"
    chown -R $DEFAULT_USER: "$home/.ssh"
  fi
fi`,
  sshServer: `if [ -x /usr/sbin/sshd ]; then
  /usr/sbin/sshd && say "sshd listening on port 22"
fi`,
  userDataDir: '/root',
  // cloud-init's stages, as systemd would run them on a Debian AMI: it finds Nimbus's metadata
  // service with its EC2 data source, sets the hostname, installs the key for the default user and
  // applies the user data (#cloud-config or scripts), keeping its per-instance state in /var/lib/cloud.
  bootAgent: `if [ -x /usr/bin/cloud-init ]; then
  say "running cloud-init"
  ( cloud-init init && cloud-init modules --mode=config && cloud-init modules --mode=final
    say "cloud-init finished (exit status $?)" ) </dev/null &
fi`,
});

/** /usr/sbin/poweroff, halt, reboot and shutdown: ask PID 1 (the shim) to shut down. */
export const POWER_SCRIPT = `#!/bin/sh
# Nimbus: there is no init system in this image; ask PID 1 (nimbus-init) to shut down.
# poweroff, shutdown: SIGUSR2; halt: SIGUSR1; reboot (and shutdown -r): SIGTERM, as busybox does.
case "$(basename "$0")" in
  halt) sig=USR1 ;;
  reboot) sig=TERM ;;
  *) sig=USR2; for a in "$@"; do case "$a" in -r|--reboot) sig=TERM ;; esac; done ;;
esac
if [ "$(id -u)" != 0 ]; then echo "$(basename "$0"): must be root" >&2; exit 1; fi
exec kill -s $sig 1
`;
