/** Listening sockets inside other network namespaces, for servers that live in this process. */
import { fork } from 'node:child_process';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./netns-listener-child.js', import.meta.url));

/** A listening TCP socket on `host:port` in the namespace `netns`, served by this process. */
export function listenInNetns(netns: string, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [host, String(port)], {
      execPath: 'ip', execArgv: ['netns', 'exec', netns, process.execPath], stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    let settled = false;
    child.on('message', (m: { listening?: boolean; error?: string }, handle) => {
      settled = true;
      if (m.listening && handle) resolve(handle as Server);
      else reject(new Error(`cannot listen on ${host}:${port} in ${netns}: ${m.error ?? 'no socket'}`));
    });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`cannot listen on ${host}:${port} in ${netns}: exit ${code} ${stderr.trim()}`));
    });
  });
}
