/**
 * How the server gives memory back to the kernel once it is quiet: the addon's release()
 * (native/memory-release.cc: V8's LowMemoryNotification, then glibc's malloc_trim), or, where the
 * addon was not built, node's gc() if bin/nimbus exposed it, which collects the garbage but leaves
 * the heap and malloc's arenas at their size. Undefined when neither is there.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { projectPath } from '../util/project-root.js';

const ADDON = projectPath('dist/native/nimbus-memory-release.node');

export function memoryRelease(): (() => void) | undefined {
  if (existsSync(ADDON)) {
    const addon = createRequire(import.meta.url)(ADDON) as { release(): void };
    return () => addon.release();
  }
  return globalThis.gc && (() => globalThis.gc!());
}
