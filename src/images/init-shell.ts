/**
 * The shell init (PID 1) that Nimbus images share: one POSIX sh script, run by busybox sh in the
 * minimal image and by dash in the Debian image, so it uses only what both provide (no `read -n`,
 * no `local`, no bash-isms).
 *
 * What every image's init does, in order: mounts what the runtime did not (/proc, /sys, /dev,
 * /dev/pts, /tmp, /run); sets the hostname from /var/lib/nimbus/hostname (written by the driver)
 * and writes /etc/hostname and /etc/hosts (with the API's endpoint names for the instance's region,
 * and AWS_DEFAULT_REGION in /etc/environment); prints the boot line; runs /etc/nimbus/boot.d/* hooks
 * (networking comes there); starts the image's SSH server; on the first boot only (the marker
 * /var/lib/nimbus/first-boot-done lives on the root volume) runs the user data at
 * /var/lib/nimbus/user-data if it starts with `#!`, as root, its output on the console. Then it
 * waits, reaping every child (orphans included: both shells' wait reaps any child).
 *
 * Signals are those busybox's own halt/poweroff/reboot send to PID 1: SIGUSR2 powers off (also
 * what the driver sends for an EC2 stop), SIGUSR1 halts, SIGTERM reboots; SIGPWR powers off and
 * SIGINT (ctrl-alt-del) reboots. Each shuts down alike: every other process gets SIGTERM, then
 * SIGKILL after 3 s, and init writes what was asked (`reboot` or `poweroff`) to
 * /var/lib/nimbus/shutdown-intent on the root volume before it exits, which ends the
 * container: the driver reads the file to boot a rebooted instance again in place.
 *
 * An image supplies only what differs (InitScriptParts): its SSH server, per-instance identity,
 * and what its userland needs beyond the common mounts.
 */
export interface InitScriptParts {
  /** The comment on the script's second line, e.g. `Nimbus minimal image: PID 1.` */
  title: string;
  /** More `NAME=value` words for the common `export` line (e.g. `LANG=C.UTF-8`). */
  env?: string;
  /** Shell run right after the common mounts: what this image's userland needs beyond them. */
  afterMounts?: string;
  /** Text added to the boot line after the OS name, inside double quotes (`, Debian $(…)`). */
  osDetail?: string;
  /** Shell run before the boot.d hooks: per-instance identity (host keys, machine-id, users). */
  identity?: string;
  /** Shell that starts the image's SSH server (after the boot.d hooks). */
  sshServer: string;
  /** The directory user data runs in (default: init's own, /). */
  userDataDir?: string;
  /**
   * Shell that runs on every boot in place of the first-boot user data step, for an image whose
   * own agent (cloud-init) fetches and runs user data itself.
   */
  bootAgent?: string;
}

/** Shell sections are given without a trailing newline; an absent one leaves no blank line. */
function section(text: string | undefined): string {
  return text ? `${text.replace(/\n+$/, '')}\n` : '';
}

export function renderInitScript(parts: InitScriptParts): string {
  const env = parts.env ? ` ${parts.env}` : '';
  const cd = parts.userDataDir ? `cd ${parts.userDataDir} && ` : '';
  return `#!/bin/sh
# ${parts.title}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root${env}
umask 022
N=/var/lib/nimbus

say() { echo "[nimbus-init] $*"; }

# shutdown <what was asked> <reboot|poweroff>
shutdown() {
  trap '' TERM USR1 USR2 INT PWR
  say "$1: shutting down"
  kill -TERM -1 2>/dev/null
  i=0
  while [ $i -lt 30 ] && others; do sleep 0.1; i=$((i + 1)); done
  kill -KILL -1 2>/dev/null
  echo "$2" > $N/shutdown-intent
  sync
  if [ "$2" = reboot ]; then say "reached reboot"; else say "reached power-off"; fi
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

trap 'shutdown reboot reboot' TERM
trap 'shutdown poweroff poweroff' USR2
trap 'shutdown halt poweroff' USR1
trap 'shutdown ctrl-alt-del reboot' INT
trap 'shutdown SIGPWR poweroff' PWR
rm -f $N/shutdown-intent
trap '' HUP

[ -e /proc/self/mounts ] || mount -t proc -o nosuid,noexec,nodev proc /proc
# Boot time matters: the mount table is read once, and files are read with the read builtin
# rather than by a process each.
mounts=$(cat /proc/mounts)
mounted() { case "$mounts" in *" $1 "*) return 0 ;; esac; return 1; }

mounted /sys || mount -t sysfs -o nosuid,noexec,nodev sysfs /sys 2>/dev/null
if [ ! -c /dev/null ]; then
  mount -t devtmpfs -o nosuid,mode=755 devtmpfs /dev 2>/dev/null || {
    mount -t tmpfs -o nosuid,mode=755 tmpfs /dev
    mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/full c 1 7
    mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/tty c 5 0
  }
fi
[ -d /dev/pts ] && [ -d /dev/shm ] || mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts 2>/dev/null
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mounted /tmp || mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp 2>/dev/null
mounted /run || mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs /run 2>/dev/null
${section(parts.afterMounts)}
if [ -s $N/hostname ]; then
  read -r want < $N/hostname
  read -r have < /proc/sys/kernel/hostname
  [ "$have" = "$want" ] || hostname "$want"
  echo "$want" > /etc/hostname
fi
read -r host < /proc/sys/kernel/hostname
printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n127.0.1.1\\t%s\\n' "$host" > /etc/hosts
if [ -s $N/region ]; then
  # The API answers instances at the metadata address under AWS's own names, so SDKs need no endpoint.
  read -r region < $N/region
  printf '169.254.169.254\\t%s\\n' "ec2.$region.amazonaws.com sts.$region.amazonaws.com ssm.$region.amazonaws.com sts.amazonaws.com iam.amazonaws.com" >> /etc/hosts
  { grep -v '^AWS_DEFAULT_REGION=' /etc/environment 2>/dev/null; echo "AWS_DEFAULT_REGION=$region"; } > /tmp/.environment
  cat /tmp/.environment > /etc/environment && rm -f /tmp/.environment
  export AWS_DEFAULT_REGION=$region
fi
ip link set lo up 2>/dev/null
os=
while IFS='=' read -r key value; do [ "$key" = PRETTY_NAME ] && os=$value; done < /etc/os-release
os=\${os#\\"}; os=\${os%\\"}
read -r kernel < /proc/sys/kernel/osrelease
say "booting $host ($os${parts.osDetail ?? ''}, kernel $kernel)"
${parts.identity ? `\n${section(parts.identity)}` : ''}
for hook in /etc/nimbus/boot.d/*; do
  [ -x "$hook" ] && "$hook"
done

${section(parts.sshServer)}
${parts.bootAgent ? section(parts.bootAgent) : `if [ ! -e $N/first-boot-done ]; then
  mkdir -p $N/scripts
  : > $N/first-boot-done
  # Durable before user data runs (that file and its directory only: a global sync can take long).
  sync $N/first-boot-done $N
  # The first line, read by the builtin (dash's read has no -n): does it start with #!?
  first=
  [ -s $N/user-data ] && IFS= read -r first < $N/user-data
  case "$first" in
    '#!'*)
      cp $N/user-data $N/scripts/user-data
      chmod 700 $N/scripts/user-data
      say "running user data"
      ( ${cd}$N/scripts/user-data; say "user data finished (exit status $?)" ) </dev/null &
      ;;
    *)
      [ -s $N/user-data ] && say "user data does not start with #!: not run" ;;
  esac
fi

`}say "boot finished"
while :; do
  sleep 2147483647 &
  wait $!
done
`;
}
