#!/usr/bin/env python3
"""Resident memory of a fresh Nimbus server through the bench's workload, stage by stage.

Usage: python3 bench/memory-probe.py [--runs N] [--detail] [--node-flags FLAGS] [--env NAME=VALUE ...] [--log FILE]
  (build first: npx tsc -p .)
  --detail   also where the memory is at each stage (V8's heap, Buffers, malloc's heap), read inside
             the server by bench/memory-probe-preload.mjs; the readings take a moment, so the
             stages' figures are slightly perturbed.

Runs the sequence that bench.py's Workload runs before it reads the memory figure (launches of
100, 1,000 and 5,000 with their describes and lookups, then a wrk burst by id) and prints VmRSS,
RssAnon, RssFile and VmHWM from /proc/PID/status after each stage, and how long the raw describe
of all 5,000 took. Each run starts its own server (loopback, free port, fresh data directory) and
stops it by its PID.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the workload and server are the bench's own)

FIELDS = ('VmRSS', 'RssAnon', 'RssFile', 'VmHWM')


def status(pid):
    """The memory fields of /proc/PID/status, in MB."""
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            name, _, rest = line.partition(':')
            if name in FIELDS:
                out[name] = int(rest.split()[0]) / 1024
    return out


class ProbedWorkload(bench.Workload):
    """bench.Workload.run's sequence up to its memory figure, with a reading after each stage."""

    def __init__(self, server, prof, detail_file=None):
        super().__init__(server, prof)
        self.stages = []
        self.detail_file = detail_file

    def mark(self, stage):
        reading = status(self.server.proc.pid)
        if self.detail_file:
            reading.update(self.detail())
        self.stages.append((stage, reading))

    def detail(self):
        """The preload's reading, asked for by SIGUSR2 and written to the detail file."""
        with open(self.detail_file) as f:
            before = len(f.readlines())
        os.kill(self.server.proc.pid, signal.SIGUSR2)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(self.detail_file) as f:
                lines = f.readlines()
            if len(lines) > before:
                return json.loads(lines[-1])
            time.sleep(0.02)
        raise RuntimeError('the server wrote no memory reading')

    def measure_at(self, n):
        r = self.results
        secs, seen = self.describe_all()
        assert seen == n, f'paginator saw {seen} of {n}'
        self.mark(f'describe {n} (paginator)')
        r[f'raw_describe_{n}'] = bench.raw_pages(self.server, {'Action': 'DescribeInstances'})
        self.mark(f'describe {n} (raw)')
        secs, seen = self.describe_all(bench.TAG_FILTER)
        assert seen == (n + 99) // 100
        self.lookups(n)
        self.mark(f'lookups {n}')

    def run(self, growth=False):
        self.server.start()
        self.mark('start-up')
        self.ami = self.image()
        self.zones = sorted(z['ZoneName'] for z in self.ec2.describe_availability_zones()['AvailabilityZones'])
        self.calls = 0
        self.launch(100)
        self.tag_every_100th(0)
        self.probe = self.ids[50]
        self.ec2.create_tags(Resources=[self.probe], Tags=[{'Key': bench.PROBE_KEY, 'Value': bench.PROBE_VALUE}])
        self.measure_at(100)
        for _ in range(self.prof['run_calls']):
            out = self.ec2.run_instances(ImageId=self.ami, InstanceType=bench.INSTANCE_TYPE, MinCount=1, MaxCount=1)
            self.ids.append(out['Instances'][0]['InstanceId'])
        raw = dict(Action='RunInstances', ImageId=self.ami, InstanceType=bench.INSTANCE_TYPE, MinCount=1, MaxCount=1)
        collect = lambda body: self.ids.extend(bench.instance_ids(body))
        bench.raw_latency(self.server, raw, self.prof['run_warmup'] + self.prof['run_calls'], collect)
        self.mark(f"{2 * self.prof['run_calls'] + self.prof['run_warmup']} single launches")
        self.tag_every_100th(100)
        for n in self.prof['fleet'][1:]:
            self.grow_to(n)
            self.mark(f'launched to {n}')
            self.measure_at(n)
        bench.wrk_rps(self.server, {'Action': 'DescribeInstances', 'InstanceId.1': self.probe}, self.prof['wrk_seconds'], self.prof['wrk_warmup'])
        self.mark('wrk by id')
        time.sleep(bench.REST_S)
        self.mark(f'at rest, {bench.REST_S} s on (bench figure)')
        return self.results


PRELOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'memory-probe-preload.mjs')
DETAIL = ('heapTotal', 'heapUsed', 'arrayBuffers', 'mallocHeap')


def one_run(node_flags, env, log=None, detail=False):
    data_dir = tempfile.mkdtemp(prefix='nimbus-memprobe-')
    detail_file = os.path.join(data_dir, 'memory.jsonl') if detail else None
    if detail:
        open(detail_file, 'w').close()
        node_flags = ['--import', PRELOAD, *node_flags]
        env = {**env, 'MEMORY_PROBE_FILE': detail_file}
    server = bench.nimbus_server(data_dir, node_flags, env)
    if log:
        server.log = open(log, 'wb')
    try:
        w = ProbedWorkload(server, bench.full_profile(), detail_file)
        results = w.run()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return w.stages, results['raw_describe_5000']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--node-flags', default='')
    ap.add_argument('--env', action='append', default=[], metavar='NAME=VALUE')
    ap.add_argument('--log', metavar='FILE', help="keep the server's output (of the last run) in FILE")
    ap.add_argument('--detail', action='store_true', help='also V8 heap, Buffers and malloc heap at each stage')
    args = ap.parse_args()
    env = dict(e.split('=', 1) for e in args.env)
    bench.ensure_wrk()
    columns = FIELDS + (DETAIL if args.detail else ())
    runs, describe_ms = [], []
    for k in range(args.runs):
        stages, raw_ms = one_run(args.node_flags.split(), env, args.log, args.detail)
        runs.append(stages)
        describe_ms.append(raw_ms)
        print(f'run {k + 1}: raw describe of 5,000: {raw_ms:.0f} ms', flush=True)
        print_table(stages, columns)
    if args.runs > 1:
        print(f'median over {args.runs} runs (MB); raw describe of 5,000: {statistics.median(describe_ms):.0f} ms')
        print_table([(stage, {c: statistics.median(r[i][1][c] for r in runs) for c in columns})
                     for i, (stage, _) in enumerate(runs[0])], columns)


def print_table(stages, columns):
    print(f"  {'stage':28} " + ' '.join(f'{c:>12}' for c in columns))
    for stage, mb in stages:
        print(f'  {stage:28} ' + ' '.join(f'{mb[c]:12.0f}' for c in columns), flush=True)

if __name__ == '__main__':
    main()
