/** The data plane's tools: iproute2 (`ip`) and nftables (`nft`), run without a shell. */
import { run } from '../util/exec.js';

/** `ip` in a namespace (or the host's when undefined), `-json` where asked. */
export function ip(netns: string | undefined, args: readonly string[]): Promise<string> {
  return run('ip', netns ? ['-n', netns, ...args] : [...args]);
}

/** Several `ip` commands in one process (`ip -batch`); `-force` goes on past a failing line and reports it. */
export async function ipBatch(netns: string | undefined, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await run('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], `${lines.join('\n')}\n`);
}

export async function ipJson<T>(netns: string | undefined, args: readonly string[]): Promise<T> {
  const out = await ip(netns, ['-json', ...args]);
  return (out.trim() ? JSON.parse(out) : []) as T;
}

/** Loads an nftables script into a namespace in one transaction: all of it applies, or none. */
export async function nftApply(netns: string, script: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], script);
}

export async function netnsList(): Promise<string[]> {
  const list = await ipJson<{ name: string }[]>(undefined, ['netns', 'list']).catch(() => []);
  return list.map((n) => n.name);
}

export async function sysctl(netns: string, settings: Record<string, string | number>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  await run('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', ...args]);
}
