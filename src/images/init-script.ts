/**
 * /sbin/init of the minimal image: the shared shell init (init-shell.ts, which describes what it
 * does and which signals it obeys), run by busybox sh as the instance's PID 1. What is the
 * minimal image's own: root is the default user, given the key pair's key, and dropbear starts
 * when root has authorized keys.
 */
import { renderInitScript } from './init-shell.js';

export const INIT_SCRIPT = renderInitScript({
  title: 'Nimbus minimal image: PID 1.',
  // The key pair's key (written by the driver) is root's: root is this image's default user.
  identity: `if [ -s $N/authorized_keys ] && [ ! -s /root/.ssh/authorized_keys ]; then
  mkdir -p /root/.ssh && cp $N/authorized_keys /root/.ssh/authorized_keys
  chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys
fi`,
  sshServer: `if [ -s /root/.ssh/authorized_keys ] && [ -x /usr/sbin/dropbear ]; then
  mkdir -p /etc/dropbear
  dropbear -R -p 22 && say "dropbear listening on port 22"
fi`,
});
