/**
 * How the storage data plane runs its tools: disk tools (losetup, mkfs, cp, resize2fs…) that
 * take as long as the disk does, so with no timeout; and shell scripts in a private mount
 * namespace of their own (`unshare -m`), so that whatever they mount exists only there and goes
 * with them, never on the host.
 */
import { run } from '../util/exec.js';

export function tool(binary: string, args: readonly string[], input?: Uint8Array): Promise<string> {
  return run(binary, args, input, 0);
}

/** Runs `script` (its arguments $1…) in a private mount namespace; `input` on its standard input. */
export async function inPrivateMounts(
  name: string, script: string, args: readonly string[], opts: { input?: Uint8Array; timeoutMs?: number } = {},
): Promise<void> {
  await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, name, ...args], opts.input, opts.timeoutMs ?? 0);
}
