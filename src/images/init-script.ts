/**
 * /sbin/init of the minimal image: a busybox sh script that runs as the instance's PID 1.
 *
 * It mounts what the runtime did not (/proc, /sys, /dev, /tmp, /run), sets the hostname from
 * /var/lib/nimbus/hostname (written by the driver), runs /etc/nimbus/boot.d/* (hooks: networking
 * comes there later), starts dropbear when root has authorized keys, and on the first boot only
 * (the marker /var/lib/nimbus/first-boot-done lives on the root volume) runs the user data at
 * /var/lib/nimbus/user-data if it starts with `#!`, as root, its output on the console.
 * Then it waits, reaping every child (orphans included: ash's wait reaps any child). SIGTERM
 * (EC2 stop), SIGUSR2 (busybox poweroff), SIGUSR1 (halt), SIGINT and SIGPWR shut it down: every
 * other process gets SIGTERM, then SIGKILL after 3 s, and init exits, which ends the instance.
 */
export const INIT_SCRIPT = `#!/bin/sh
# Nimbus minimal image: PID 1.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
umask 022
N=/var/lib/nimbus

say() { echo "[nimbus-init] $*"; }

shutdown() {
  trap '' TERM USR1 USR2 INT PWR
  say "$1: shutting down"
  kill -TERM -1 2>/dev/null
  i=0
  while [ $i -lt 30 ] && others; do sleep 0.1; i=$((i + 1)); done
  kill -KILL -1 2>/dev/null
  sync
  say "reached power-off"
  exit 0
}

# Whether any process other than this one (and zombies) is left.
others() {
  for d in /proc/[0-9]*; do
    [ "\${d#/proc/}" = 1 ] && continue
    s=$(sed -n 's/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p' "$d/status" 2>/dev/null)
    [ -n "$s" ] && [ "$s" != Z ] && return 0
  done
  return 1
}

trap 'shutdown SIGTERM' TERM
trap 'shutdown poweroff' USR2
trap 'shutdown halt' USR1
trap 'shutdown SIGINT' INT
trap 'shutdown SIGPWR' PWR
trap '' HUP

mounted() { grep -qs "^[^ ]* $1 " /proc/mounts; }

[ -e /proc/self/mounts ] || mount -t proc -o nosuid,noexec,nodev proc /proc
mounted /sys || mount -t sysfs -o nosuid,noexec,nodev sysfs /sys 2>/dev/null
if [ ! -c /dev/null ]; then
  mount -t devtmpfs -o nosuid,mode=755 devtmpfs /dev 2>/dev/null || {
    mount -t tmpfs -o nosuid,mode=755 tmpfs /dev
    mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/full c 1 7
    mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/tty c 5 0
  }
fi
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts 2>/dev/null
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mounted /tmp || mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp 2>/dev/null
mounted /run || mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run 2>/dev/null

if [ -s $N/hostname ]; then
  [ "$(hostname)" = "$(cat $N/hostname)" ] || hostname -F $N/hostname
  hostname > /etc/hostname
fi
printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\\t%s\\n' "$(hostname)" > /etc/hosts
ip link set lo up 2>/dev/null
say "booting $(hostname) ($(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r))"

for hook in /etc/nimbus/boot.d/*; do
  [ -x "$hook" ] && "$hook"
done

if [ -s /root/.ssh/authorized_keys ] && [ -x /usr/sbin/dropbear ]; then
  mkdir -p /etc/dropbear
  dropbear -R -p 22 && say "dropbear listening on port 22"
fi

if [ ! -e $N/first-boot-done ]; then
  mkdir -p $N/scripts
  : > $N/first-boot-done
  sync
  if [ -s $N/user-data ] && [ "$(head -c 2 $N/user-data)" = '#!' ]; then
    cp $N/user-data $N/scripts/user-data
    chmod 700 $N/scripts/user-data
    say "running user data"
    ( $N/scripts/user-data; say "user data finished (exit status $?)" ) </dev/null &
  elif [ -s $N/user-data ]; then
    say "user data does not start with #!: not run"
  fi
fi

say "boot finished"
while :; do
  sleep 2147483647 &
  wait $!
done
`;
