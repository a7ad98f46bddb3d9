/**
 * /sbin/init of the minimal image: the shared shell init (init-shell.ts, which describes what it
 * does and which signals it obeys), run by busybox sh as the instance's PID 1. What is the
 * minimal image's own: it starts dropbear when root has authorized keys.
 */
import { renderInitScript } from './init-shell.js';

export const INIT_SCRIPT = renderInitScript({
  title: 'Nimbus minimal image: PID 1.',
  sshServer: `if [ -s /root/.ssh/authorized_keys ] && [ -x /usr/sbin/dropbear ]; then
  mkdir -p /etc/dropbear
  dropbear -R -p 22 && say "dropbear listening on port 22"
fi`,
});
