/** Running a host tool without a shell: its output, or an error naming the command and what it said. */
import { execFile, type ExecFileException } from 'node:child_process';

export class CommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly code: number | string | null | undefined) {
    super(`${command}: ${stderr.trim() || `exit ${code}`}`);
  }
}

/** Runs `binary` with `input` on its standard input; `timeoutMs` 0 waits as long as it takes. */
export function run(binary: string, args: readonly string[], input?: string | Uint8Array, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err: ExecFileException | null, stdout, stderr) => {
      if (err) reject(new CommandError(`${binary} ${args.join(' ')}`, stderr, err.code));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
