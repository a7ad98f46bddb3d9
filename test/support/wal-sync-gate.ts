/**
 * Loaded into a test's server with `node --import` (through NIMBUS_NODE_FLAGS): holds every
 * fdatasync of the store's WAL until the file $NIMBUS_SYNC_GATE/open exists, and appends a line
 * to $NIMBUS_SYNC_GATE/asked for each one asked for. A held sync stands for a disk that has not
 * flushed yet, which is what a power loss would take. The store syncs on the event loop, so a
 * held sync holds the whole server.
 */
import fs from 'node:fs';
import { join } from 'node:path';

const gate = process.env.NIMBUS_SYNC_GATE;
if (gate) {
  const real = fs.fdatasyncSync;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const isWal = (fd: number) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('-wal');
    } catch {
      return false;
    }
  };
  fs.fdatasyncSync = (fd: number) => {
    if (isWal(fd)) {
      fs.appendFileSync(join(gate, 'asked'), `${fd}\n`);
      while (!fs.existsSync(join(gate, 'open'))) Atomics.wait(pause, 0, 0, 5);
    }
    real(fd);
  };
}
