/**
 * Loaded into a test's server with `node --import` (through NIMBUS_NODE_FLAGS): holds every
 * fdatasync of the store's WAL until the file $NIMBUS_SYNC_GATE/open exists, and appends a line
 * to $NIMBUS_SYNC_GATE/asked for each one asked for. A held sync stands for a disk that has not
 * flushed yet, which is what a power loss would take: nothing the store waits on may answer
 * meanwhile.
 */
import fs from 'node:fs';
import { join } from 'node:path';

const gate = process.env.NIMBUS_SYNC_GATE;
if (gate) {
  const real = fs.fdatasync;
  const isWal = (fd: number) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('-wal');
    } catch {
      return false;
    }
  };
  const whenOpen = (then: () => void) => (fs.existsSync(join(gate, 'open')) ? then() : setTimeout(() => whenOpen(then), 5));
  fs.fdatasync = ((fd: number, cb: fs.NoParamCallback) => {
    if (!isWal(fd)) return real(fd, cb);
    fs.appendFileSync(join(gate, 'asked'), `${fd}\n`);
    whenOpen(() => real(fd, cb));
  }) as typeof fs.fdatasync;
}
