/**
 * Where the project's own files are (the directory of its package.json), found by walking up from
 * this module: the same answer from the compiled tree (dist/src/util/) and from the server's
 * bundle (dist/bundle/), so the files that ship beside the code (dist/native's helpers, the
 * catalogue's data) are found from either.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function projectRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in or above ${start}`);
  }
}

const ROOT = projectRoot();

/** A path inside the project, e.g. projectPath('dist/native', name). */
export function projectPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}
