/**
 * Crash safety: the server is killed (SIGKILL) in the middle of a storm of RunInstances,
 * StopInstances and TerminateInstances calls from 8 concurrent clients, then started again on the
 * same data directory. Every call that returned success is in the store exactly once with the
 * state it promised; retrying a RunInstances with its ClientToken returns the original reservation
 * and creates nothing; nothing exists that no call created, and a call cut off by the kill either
 * happened or did not, never twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client, type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { startServer, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';
import { allInstances, duplicates, settledInstances } from './support/inventory.js';

const CLIENTS = 8;
const CALLS = 200;
/** The kill comes once this many calls have returned, with the other clients' calls in flight. */
const KILL_AFTER = 100;

type Op = 'run' | 'stop' | 'terminate';

interface Call {
  op: Op;
  client: number;
  /** The instance a stop or terminate was for; a run's instance once it answered. */
  instanceId?: string;
  /** RunInstances: the token and the exact input, to retry it. */
  input?: RunInstancesCommandInput;
  outcome: 'ok' | 'rejected' | 'cut-off';
  reservationId?: string;
  /** The state the answer promised. */
  state?: string;
  error?: string;
}

/** The states an instance may be in once the last call on it that answered said `state`. */
const PROMISED: Record<string, string[]> = {
  pending: ['pending', 'running'],
  stopping: ['stopping', 'stopped'],
  stopped: ['stopped'],
  'shutting-down': ['shutting-down', 'terminated'],
  terminated: ['terminated'],
};
/** Where each kind of call leads, for a call the kill cut off (it may have happened). */
const MAY_LEAD_TO: Record<Op, string[]> = { run: PROMISED.pending!, stop: PROMISED.stopping!, terminate: PROMISED['shutting-down']! };
/** Where each state ends once the reconciler has converged. */
const SETTLES_TO: Record<string, string> = {
  pending: 'running', running: 'running', stopping: 'stopped', stopped: 'stopped', 'shutting-down': 'terminated', terminated: 'terminated',
};

describe('crash safety under a storm of calls', () => {
  let nimbus: NimbusProcess;
  let ami: string;
  const calls: Call[] = [];

  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '20', '--instance-limit', '1000'] });
    ami = await x86Image(nimbus.ec2());
    await storm();
    await nimbus.start();
  });
  after(() => nimbus.dispose());

  /**
   * 8 clients, each working on its own instances; records every call and its answer. Each client
   * goes on calling through the kill until a call of its own goes unanswered, so that the kill
   * lands among calls in flight.
   */
  async function storm(): Promise<void> {
    let issued = 0;
    let answered = 0;
    let killing: Promise<void> | undefined;
    const client = async (k: number) => {
      const ec2 = nimbus.ec2();
      const live: string[] = [];
      for (let n = 0, cutOff = false; !cutOff && issued < CALLS; n++) {
        issued++;
        const call = pick(k, n, live);
        calls.push(call);
        await send(ec2, call, live);
        cutOff = call.outcome === 'cut-off';
        if (++answered === KILL_AFTER) killing = nimbus.kill9();
      }
      ec2.destroy();
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
    assert.ok(killing, 'the storm ended before the kill');
    await killing;
  }

  function pick(k: number, n: number, live: string[]): Call {
    const roll = (k * 7919 + n * 104729) % 10;
    const target = live[(k + n) % Math.max(live.length, 1)];
    if (!target || roll < 4) {
      const input: RunInstancesCommandInput = {
        ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ClientToken: `storm-${k}-${n}`,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'storm', Value: `client-${k}` }] }],
      };
      return { op: 'run', client: k, input, outcome: 'cut-off' };
    }
    return { op: roll < 7 ? 'stop' : 'terminate', client: k, instanceId: target, outcome: 'cut-off' };
  }

  async function send(ec2: EC2Client, call: Call, live: string[]): Promise<void> {
    try {
      if (call.op === 'run') {
        const out = await ec2.send(new RunInstancesCommand(call.input!));
        call.reservationId = out.ReservationId;
        call.instanceId = out.Instances![0]!.InstanceId;
        call.state = out.Instances![0]!.State!.Name;
        live.push(call.instanceId!);
      } else if (call.op === 'stop') {
        const out = await ec2.send(new StopInstancesCommand({ InstanceIds: [call.instanceId!] }));
        call.state = out.StoppingInstances![0]!.CurrentState!.Name;
      } else {
        const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [call.instanceId!] }));
        call.state = out.TerminatingInstances![0]!.CurrentState!.Name;
        live.splice(live.indexOf(call.instanceId!), 1);
      }
      call.outcome = 'ok';
    } catch (err) {
      const e = err as { $metadata?: { httpStatusCode?: number }; name?: string };
      const status = e.$metadata?.httpStatusCode;
      call.error = e.name;
      // An EC2 error (IncorrectInstanceState for a stop of a pending instance) is an answer; a
      // dropped connection is the kill. A 5xx is neither, and fails the test below.
      call.outcome = status !== undefined && status < 500 ? 'rejected' : 'cut-off';
      if (status !== undefined && status >= 500) call.error = `${e.name} (${status})`;
    }
  }

  const ok = (op?: Op) => calls.filter((c) => c.outcome === 'ok' && (!op || c.op === op));

  it('stormed: successes before the kill and calls cut off by it, no 5xx', (t) => {
    const tally = (outcome: Call['outcome']) => (['run', 'stop', 'terminate'] as const).map((op) => `${op} ${calls.filter((c) => c.op === op && c.outcome === outcome).length}`).join(', ');
    t.diagnostic(`succeeded: ${tally('ok')}; rejected: ${tally('rejected')}; cut off: ${tally('cut-off')}`);
    assert.ok(ok().length >= KILL_AFTER / 2, `only ${ok().length} calls succeeded`);
    assert.ok(ok('run').length > 0 && ok('stop').length > 0 && ok('terminate').length > 0, 'every kind of call succeeded at least once');
    const cut = calls.filter((c) => c.outcome === 'cut-off');
    assert.ok(cut.length > 0, 'the kill cut off calls in flight');
    assert.deepEqual(calls.filter((c) => c.error?.includes('(5')), [], 'no call answered with a 5xx');
    for (const c of calls.filter((c) => c.outcome === 'rejected')) assert.equal(c.error, 'IncorrectInstanceState', `${c.op} ${c.instanceId}`);
  });

  it('has every instance a successful call returned, once, in the state it promised', async () => {
    const instances = await allInstances(nimbus.ec2());
    assert.deepEqual(duplicates(instances.map((i) => i.InstanceId!)), [], 'an instance is listed twice');
    const byId = new Map(instances.map((i) => [i.InstanceId!, i]));
    for (const run of ok('run')) {
      const found = byId.get(run.instanceId!);
      assert.ok(found, `${run.instanceId} (launched with ${run.input!.ClientToken}) is lost`);
      assert.equal(found.ReservationId, run.reservationId);
      assert.deepEqual(found.Tags, [{ Key: 'storm', Value: `client-${run.client}` }]);
    }
    for (const [id, allowed] of allowedStates()) {
      assert.ok(allowed.includes(byId.get(id)!.State!.Name!), `${id} is ${byId.get(id)!.State!.Name}, promised ${allowed.join('/')}`);
    }
  });

  it('answers a retried RunInstances with the original reservation, creating nothing', async () => {
    const ec2 = nimbus.ec2();
    const before = (await allInstances(ec2)).length;
    for (const run of ok('run')) {
      const again = await ec2.send(new RunInstancesCommand(run.input!));
      assert.equal(again.ReservationId, run.reservationId, run.input!.ClientToken);
      assert.deepEqual(again.Instances!.map((i) => i.InstanceId), [run.instanceId]);
    }
    assert.equal((await allInstances(ec2)).length, before);
  });

  it('has no instance that no call created; a cut-off launch retried exists once', async (t) => {
    const ec2 = nimbus.ec2();
    const launched = new Set(ok('run').map((c) => c.instanceId!));
    const beforeRetry = new Set((await allInstances(ec2)).map((i) => i.InstanceId!));
    const cutOffRuns = calls.filter((c) => c.op === 'run' && c.outcome === 'cut-off');
    // Whether the launch happened or not, its token now yields one instance: the one it made, if
    // it made one (then it is already listed), else a new one.
    const fromRetries = new Set<string>();
    for (const run of cutOffRuns) {
      const again = await ec2.send(new RunInstancesCommand(run.input!));
      const id = again.Instances![0]!.InstanceId!;
      assert.equal((await ec2.send(new RunInstancesCommand(run.input!))).Instances![0]!.InstanceId, id, 'a second retry gives the same');
      fromRetries.add(id);
    }
    t.diagnostic(`${[...fromRetries].filter((id) => beforeRetry.has(id)).length} of ${cutOffRuns.length} cut-off launches had happened before the kill`);
    const stray = [...beforeRetry].filter((id) => !launched.has(id) && !fromRetries.has(id));
    assert.deepEqual(stray, [], 'instances that no call created');
    const after = (await allInstances(ec2)).map((i) => i.InstanceId!);
    assert.equal(after.length, new Set([...launched, ...fromRetries]).size);
    assert.deepEqual(new Set(after), new Set([...launched, ...fromRetries]));
  });

  it('converges every instance to where its calls lead', async () => {
    const settled = new Map((await settledInstances(nimbus.ec2())).map((i) => [i.InstanceId!, i.State!.Name!]));
    for (const [id, allowed] of allowedStates()) {
      const ends = new Set(allowed.map((s) => SETTLES_TO[s]));
      assert.ok(ends.has(settled.get(id)!), `${id} settled at ${settled.get(id)}, expected ${[...ends].join('/')}`);
    }
  });

  /** For each instance a successful call touched: the states its calls allow, in the order they were made. */
  function allowedStates(): Map<string, string[]> {
    const allowed = new Map<string, string[]>();
    // Each client's calls on its instances are sequential, and `calls` is in the order they were made.
    for (const c of calls) {
      if (!c.instanceId || c.outcome === 'rejected') continue;
      if (c.outcome === 'ok') allowed.set(c.instanceId, PROMISED[c.state!] ?? [c.state!]);
      else if (allowed.has(c.instanceId)) allowed.set(c.instanceId, [...new Set([...allowed.get(c.instanceId)!, ...MAY_LEAD_TO[c.op]])]);
    }
    return allowed;
  }
});
