/** Listening sockets inside other network namespaces, for servers that live in this process. */
import { fork } from 'node:child_process';
import type { Server } from 'node:net';
import { projectPath } from '../util/project-root.js';

/** The compiled child, also when this module runs from the server's bundle. */
const CHILD = projectPath('dist/src/network/netns-listener-child.js');

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Listening TCP sockets on each endpoint in the namespace `netns` (one short-lived process for
 * all), served by this process. `serve(server, index)` is called as each socket arrives, before
 * the event loop turns: the socket accepts connections from then on, and one accepted while no
 * one listened for 'connection' would be left open and never answered.
 */
export function listenInNetns(netns: string, endpoints: readonly Endpoint[], serve: (server: Server, index: number) => void): Promise<Server[]> {
  if (endpoints.length === 0) return Promise.resolve([]);
  const args = endpoints.map((e) => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`));
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, args, {
      execPath: 'ip', execArgv: ['netns', 'exec', netns, process.execPath], stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const servers: Server[] = [];
    let failed: string | undefined;
    child.on('message', (m: { index?: number; error?: string }, handle) => {
      if (m.index !== undefined && handle) {
        servers[m.index] = handle as Server;
        serve(handle as Server, m.index);
      }
      else failed = m.error ?? 'no socket';
    });
    child.on('exit', (code) => {
      const got = servers.filter(Boolean).length;
      if (!failed && got === endpoints.length) return resolve(servers);
      for (const s of servers) s?.close();
      reject(new Error(`cannot listen on ${args.join(', ')} in ${netns}: ${failed ?? `exit ${code}`} ${stderr.trim()}`));
    });
  });
}
