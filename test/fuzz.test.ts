/**
 * Property-based fuzzing of the EC2 Query endpoint: every malformed request, signed correctly so
 * that it reaches the protocol layer and the operations, gets a well-formed EC2 error (or, when
 * it happens to be valid, a well-formed answer), never a 5xx, and the server stays up. Then the
 * transport's own limits: a body that never ends and headers sent byte by byte are cut off.
 *
 * Deterministic by default; FUZZ_SEED and FUZZ_RUNS explore further.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DescribeInstancesCommand, DescribeKeyPairsCommand } from '@aws-sdk/client-ec2';
import fc from 'fast-check';
import { answerProblems } from './support/fuzz-oracle.js';
import { fuzzCases, showCall } from './support/fuzz-requests.js';
import { closeAgent, healthy, sendSigned } from './support/fuzz-wire.js';
import { startServer, type NimbusProcess } from './support/server.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);
const HEALTH_EVERY = 100;

describe('fuzz: malformed EC2 Query requests', () => {
  let nimbus: NimbusProcess;

  before(async () => {
    nimbus = await startServer();
  });
  after(async () => {
    closeAgent();
    await nimbus.dispose();
  });

  it(`answers every generated request with a well-formed 2xx or 4xx (seed ${SEED}, ${RUNS} runs)`, async () => {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(fuzzCases, async ({ calls }) => {
        for (const call of calls) {
          const answer = await sendSigned(nimbus.url, call.wire);
          const problems = answerProblems(call, answer);
          if (problems.length) {
            throw new Error(`${problems.join('; ')}\nrequest: ${showCall(call)}\nanswer ${answer.status}: ${answer.body.slice(0, 1500)}`);
          }
        }
        if (++cases % HEALTH_EVERY === 0) assert.ok(await healthy(nimbus.url), `server down after ${cases} cases`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    assert.ok(await healthy(nimbus.url), 'server down after the run');
    // Anything thrown inside the server that was not an API error is logged; none may be.
    assert.doesNotMatch(nimbus.output, /failed:/, nimbus.output);
  });

  it('created nothing: every generated RunInstances and CreateKeyPair/ImportKeyPair was invalid', async () => {
    const ec2 = nimbus.ec2();
    const instances = await ec2.send(new DescribeInstancesCommand({}));
    assert.deepEqual(instances.Reservations, []);
    const keys = await ec2.send(new DescribeKeyPairsCommand({}));
    assert.deepEqual(keys.KeyPairs, []);
  });
});

describe('fuzz: clients that never finish sending', () => {
  const TIMEOUT_MS = 1500;
  /** Generous: the server checks its connections' deadlines periodically, not at the instant. */
  const MARGIN_MS = 5000;
  let nimbus: NimbusProcess;

  before(async () => {
    nimbus = await startServer({ args: ['--request-timeout-ms', String(TIMEOUT_MS)] });
  });
  after(() => nimbus.dispose());

  /** Connects, sends `start`, then `drip` every `everyMs` until the server closes; resolves with ms to close. */
  function closedAfter(start: string, drip?: { text: string; everyMs: number }): Promise<number> {
    const { hostname, port } = new URL(nimbus.url);
    return new Promise((resolveMs, reject) => {
      const began = performance.now();
      const socket = net.connect(Number(port), hostname, () => socket.write(start));
      const timer = drip && setInterval(() => socket.writable && socket.write(drip.text), drip.everyMs);
      const deadline = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the server kept the connection open past ${TIMEOUT_MS + MARGIN_MS} ms`));
      }, TIMEOUT_MS + MARGIN_MS);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined); // a reset is a close too
      socket.on('close', () => {
        clearInterval(timer);
        clearTimeout(deadline);
        resolveMs(performance.now() - began);
      });
    });
  }

  it('cuts off a request whose body never finishes', async () => {
    const host = new URL(nimbus.url).host;
    const ms = await closedAfter(
      `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nAction=DescribeRegions&`,
    );
    assert.ok(ms >= TIMEOUT_MS / 2, `closed after ${ms} ms, before the timeout`);
    assert.ok(await healthy(nimbus.url));
  });

  it('cuts off a request whose body trickles in forever', async () => {
    const host = new URL(nimbus.url).host;
    const ms = await closedAfter(`POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100000\r\n\r\n`, { text: 'x', everyMs: 100 });
    assert.ok(ms >= TIMEOUT_MS / 2, `closed after ${ms} ms, before the timeout`);
    assert.ok(await healthy(nimbus.url));
  });

  it('cuts off slow-loris headers', async () => {
    const host = new URL(nimbus.url).host;
    const ms = await closedAfter(`POST / HTTP/1.1\r\nHost: ${host}\r\n`, { text: 'X-Slow: a\r\n', everyMs: 100 });
    assert.ok(ms >= TIMEOUT_MS / 2, `closed after ${ms} ms, before the timeout`);
    assert.ok(await healthy(nimbus.url));
  });
});
