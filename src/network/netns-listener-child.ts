/**
 * Run inside a network namespace (`ip netns exec NS node this HOST:PORT…`) by netns-listener.ts:
 * binds a listening socket there for each endpoint, hands them to the parent over the IPC channel
 * and exits. The sockets stay in the namespace they were made in, so the parent serves that
 * namespace without a process of its own living there.
 */
import net from 'node:net';

/** `169.254.169.254:80` or `[fd00:ec2::254]:80`. */
function parse(endpoint: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`bad endpoint ${endpoint}`);
  return { host: m[1]!, port: Number(m[2]) };
}

const fail = (err: Error) => process.send!({ error: err.message }, () => process.exit(1));

for (const [index, endpoint] of process.argv.slice(2).entries()) {
  const server = net.createServer();
  server.on('error', fail);
  server.listen({ ...parse(endpoint), exclusive: true }, () => {
    process.send!({ index }, server, () => {
      server.close();
      if (index === process.argv.length - 3) process.exit(0);
    });
  });
}
