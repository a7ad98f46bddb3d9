/**
 * Run inside a network namespace (`ip netns exec NS node this HOST PORT`) by netns-listener.ts:
 * binds a listening socket there, hands it to the parent over the IPC channel and exits. The
 * socket stays in the namespace it was made in, so the parent serves that namespace without a
 * process of its own living there.
 */
import net from 'node:net';

const [host, port] = [process.argv[2]!, Number(process.argv[3])];
const server = net.createServer();
server.on('error', (err) => {
  process.send!({ error: err.message }, () => process.exit(1));
});
server.listen({ host, port, exclusive: true }, () => {
  process.send!({ listening: true }, server, () => {
    server.close();
    process.exit(0);
  });
});
