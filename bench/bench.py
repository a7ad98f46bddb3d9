#!/usr/bin/env python3
"""Nimbus vs moto server: the same boto3 workload against each, one after the other.

Usage: python3 bench/bench.py [--quick] [--no-write] [--only nimbus|moto] [--profile DIR] [--node-flags FLAGS]
  (npm run bench -- ARGS builds first, then runs this.)
  --quick      smaller fleets and shorter runs (under a minute); exits 1 if any ratio falls
               below half its target.
  --no-write   print the table only (bench/RESULTS.md is left as it is).
  --profile    run Nimbus under `node --cpu-prof`, writing .cpuprofile files to DIR
               (summarise one with `node bench/profile-summary.mjs FILE [TOP] [LAST_SECONDS]`).
  --only       run the workload against one server only (no ratios).

Every server runs on loopback with a fresh data directory and is stopped by its PID.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import json
from urllib.parse import quote, unquote

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = 'us-east-1'
CREDS = Credentials('test', 'test')
TAG_KEY, TAG_VALUE = 'bench-group', 'marked'
TAG_FILTER = [{'Name': f'tag:{TAG_KEY}', 'Values': [TAG_VALUE]}]
# A tag on one instance only: the by-tag lookup, whose answer has the same size at every N.
PROBE_KEY, PROBE_VALUE = 'bench-name', 'probe'
PROBE_FILTER = [{'Name': f'tag:{PROBE_KEY}', 'Values': [PROBE_VALUE]}]
INSTANCE_TYPE = 't3.micro'
NOTES_MARKER = '<!-- notes: kept when the bench rewrites this file -->'
# The raw describe of everything is timed up to this many times (fewer once 2 s are spent: a slow
# server gets fewer samples, not a longer run) after one untimed run in full mode (the JIT's warm-up
# of the path, for both servers), and its median kept: a single run moves by ±40 % with GC.
DESCRIBE_RUNS = 3
DESCRIBE_BUDGET_S = 2
# After the growth rows, launches into an empty /22 and then into one with all but a few of its
# addresses in use (the first four and the last of each are AWS's): 980 taken, then 35 timed.
FULL_SUBNET = dict(vpc='10.99.0.0/16', empty='10.99.4.0/22', full='10.99.0.0/22', usable=1019, taken=980, timed=35)


def full_profile():
    # lookup_budget: each lookup series stops after this many seconds (with at least 5 samples).
    # describe_warmup: an untimed raw describe of all before the timed ones.
    # run_warmup: untimed launches by the raw signed request before its timed series (see Workload.run).
    return dict(quick=False, run_calls=200, run_warmup=500, fleet=[100, 1000, 5000], mem_at=5000, wrk_seconds=10, wrk_warmup=2,
                growth=(1000, 100_000), lookups=200, lookup_budget=3, describe_warmup=True)


def quick_profile():
    # Under a minute: smaller fleets (moto takes about 9 s to launch and describe each 1,000),
    # shorter series, and the raw describe of all is warmed only by the paginator's describe of all
    # just before it (the same path in each server), which moto takes seconds for.
    return dict(quick=True, run_calls=50, run_warmup=300, fleet=[100, 500], mem_at=500, wrk_seconds=2, wrk_warmup=1,
                growth=(500, 5_000), lookups=100, lookup_budget=0.5, describe_warmup=False)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def percentile(values, p):
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def rss_mb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


class Server:
    """One server process on loopback; `cmd` gets the port."""

    def __init__(self, name, cmd, env=None):
        self.name = name
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.cmd = cmd(self.port)
        self.env = env
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def client(self):
        cfg = botocore.config.Config(retries={'max_attempts': 1, 'mode': 'standard'}, connect_timeout=2,
                                     read_timeout=600, max_pool_connections=4)
        return boto3.client('ec2', region_name=REGION, endpoint_url=self.url, aws_access_key_id='test',
                            aws_secret_access_key='test', config=cfg)

    def start(self):
        """Launches the process; returns seconds until the first successful DescribeRegions."""
        ec2 = self.client()  # built and warmed before the clock starts: only the server is timed
        try:
            ec2.describe_regions()
        except Exception:
            pass
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = t0 + 60
        while True:
            try:
                if self.accepts():
                    ec2.describe_regions()
                    return time.perf_counter() - t0
            except Exception:
                pass
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f'{self.name} exited early:\n{self.log.read().decode()[-2000:]}')
            if time.perf_counter() > deadline:
                raise RuntimeError(f'{self.name} did not answer within 60 s')
            time.sleep(0.002)

    def accepts(self):
        """Whether the port takes connections yet (a cheap poll before the real call)."""
        import socket
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex(('127.0.0.1', self.port)) == 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def nimbus_server(data_dir, node_flags=(), env=None):
    """The Nimbus server the workload runs against (sim driver, limits above any fleet here).
    bin/nimbus is the launcher that sets the runtime's memory settings: extra node flags reach
    node through NIMBUS_NODE_FLAGS."""
    env = {**os.environ, **(env or {})}
    if node_flags:
        env['NIMBUS_NODE_FLAGS'] = ' '.join(node_flags)
    return Server('nimbus', lambda port: ['bin/nimbus', 'serve', '--driver', 'sim', '--host', '127.0.0.1', '--port', str(port),
                                          '--data-dir', data_dir, '--sim-delay-ms', '50',
                                          '--instance-limit', '200000', '--limit', 'networkInterfacesPerRegion=200000'],
                  env=env)


def signed(server, params):
    """One SigV4-signed EC2 Query request (headers, body), signed once and replayable for 15 minutes."""
    body = '&'.join(f'{k}={v}' for k, v in {'Version': '2016-11-15', **params}.items())
    req = AWSRequest(method='POST', url=server.url + '/', data=body,
                     headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'})
    SigV4Auth(CREDS, 'ec2', REGION).add_auth(req)
    return dict(req.headers.items()), body


def boto3_launches(ec2, ami, count):
    """ms of each of `count` RunInstances of one instance through boto3, and the new ids."""
    times, ids = [], []
    for _ in range(count):
        t = time.perf_counter()
        out = ec2.run_instances(ImageId=ami, InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1)
        times.append((time.perf_counter() - t) * 1000)
        ids.append(out['Instances'][0]['InstanceId'])
    return times, ids


def instance_ids(body):
    """The instance ids in a RunInstances answer (raw XML), in order."""
    return [m.decode() for m in re.findall(rb'<instanceId>(i-[0-9a-f]+)</instanceId>', body)]


def raw_latency(server, params, count, collect=None, budget_s=None):
    """Median and p99 ms of one signed request replayed over a kept-alive connection: server time
    plus loopback, without boto3's own client overhead."""
    headers, body = signed(server, params)
    conn = http.client.HTTPConnection('127.0.0.1', server.port)
    times = []
    started = time.perf_counter()
    for _ in range(count):
        if budget_s and len(times) >= 5 and time.perf_counter() - started > budget_s:
            break  # a slow server gets fewer samples, not a longer run
        t = time.perf_counter()
        conn.request('POST', '/', body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f'{server.name}: HTTP {r.status}')
        if collect:
            collect(data)
        times.append((time.perf_counter() - t) * 1000)
    conn.close()
    return statistics.median(times), percentile(times, 99)


def raw_pages(server, params, keep=None):
    """ms to fetch every page of a DescribeInstances over one connection (moto pages by 100
    reservations, Nimbus answers in one page): the server's time plus loopback, summed over the
    pages' exchanges. Signing a page's request and finding the next token in the answer (a scan of
    20 MB for Nimbus's one page) are the client's work and fall outside the clock. `keep` gets
    each page's answer under the token that asked for it (a replay server's key)."""
    conn = http.client.HTTPConnection('127.0.0.1', server.port)
    token, total = None, 0.0
    while True:
        headers, body = signed(server, {**params, **({'NextToken': token} if token else {})})
        t = time.perf_counter()
        conn.request('POST', '/', body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        total += time.perf_counter() - t
        if r.status != 200:
            raise RuntimeError(f'{server.name}: HTTP {r.status}: {data[:300]!r}')
        if keep is not None:
            keep[f"{params['Action']} {unquote(token or '')}"] = data
        m = re.search(rb'<nextToken>([^<]+)</nextToken>', data)
        if not m:
            break
        token = quote(m.group(1).decode(), safe='')
    conn.close()
    return total * 1000


# The memory figure is read this long after the last request: the server at rest.
REST_S = 2


def wrk_rps(server, params, seconds, warmup_s):
    """Requests/s of one signed request replayed by wrk over 32 connections, after a burst of
    warmup_s seconds that is not counted: the steady state is measured, not the JIT's warm-up of
    the by-id path under concurrency (both servers get it)."""
    wrk_burst(server, params, warmup_s)
    return wrk_burst(server, params, seconds)


def wrk_burst(server, params, seconds):
    headers, body = signed(server, params)
    script = tempfile.NamedTemporaryFile('w', suffix='.lua', delete=False)
    lua_headers = ''.join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items() if k.lower() != 'content-length')
    script.write(f'wrk.method = "POST"\nwrk.body = "{body}"\n{lua_headers}'
                 'done = function(summary, latency, requests)\n'
                 '  io.write(string.format("BENCH %d %d %d %d\\n", summary.requests, summary.errors.status,'
                 ' summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,'
                 ' summary.duration))\nend\n')
    script.close()
    try:
        # wrk gives up on an answer after 2 s by default, and counts it as a socket error: moto's by-id
        # answers queue behind 31 others for about a second, and now and then pass 2 s.
        out = subprocess.run(['wrk', '-t2', '-c32', f'-d{seconds}s', '--timeout', '10s', '-s', script.name, server.url + '/'],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script.name)
    line = next(l for l in out.splitlines() if l.startswith('BENCH '))
    reqs, bad_status, errors, duration_us = map(int, line.split()[1:])
    if bad_status or errors:
        raise RuntimeError(f'{server.name}: wrk saw {bad_status} non-2xx answers and {errors} socket errors')
    return reqs / (duration_us / 1e6)


def ensure_wrk():
    if shutil.which('wrk'):
        return
    if os.geteuid() != 0:
        sys.exit('bench: wrk is missing (apt-get install wrk)')
    print('bench: installing wrk (Debian package)', file=sys.stderr)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if subprocess.run(['apt-get', 'install', '-y', 'wrk'], **quiet).returncode != 0:
        subprocess.run(['apt-get', 'update'], **quiet)
        subprocess.run(['apt-get', 'install', '-y', 'wrk'], check=True, **quiet)


class Workload:
    def __init__(self, server, prof):
        self.server = server
        self.prof = prof
        self.ec2 = server.client()
        self.ids = []
        self.results = {}
        # Answers to replay for the client floor (see client_floor): the last of each call's.
        self.answers = {}

    def image(self):
        images = self.ec2.describe_images(Owners=['amazon'], Filters=[{'Name': 'architecture', 'Values': ['x86_64']}])['Images']
        return sorted(i['ImageId'] for i in images)[0]

    def launch(self, count, boto=True):
        """Launches `count` instances in calls of at most 1,000, spread over the zones' default
        subnets (each /20 holds 4,091 addresses). Through boto3, or (boto=False, for fleets that
        are not themselves measured) as raw signed requests: boto3 takes about a second to parse
        each answer of 1,000 instances, which is most of a quick run's time with Nimbus."""
        while count > 0:
            n = min(count, 1000)
            zone = self.zones[self.calls % len(self.zones)]
            self.calls += 1
            for attempt in range(100):
                try:
                    self.ids += self._run_boto3(n, zone) if boto else self._run_raw(n, zone)
                    break
                except self.ec2.exceptions.ClientError as e:
                    # Addresses of a wave just terminated come back a moment later.
                    if e.response['Error']['Code'] != 'InsufficientFreeAddressesInSubnet' or attempt == 99:
                        raise
                    time.sleep(0.2)
            count -= n

    def _run_boto3(self, n, zone):
        """RunInstances of n through boto3: the new ids."""
        out = self.ec2.run_instances(ImageId=self.ami, InstanceType=INSTANCE_TYPE, MinCount=n, MaxCount=n,
                                     Placement={'AvailabilityZone': zone})
        return [i['InstanceId'] for i in out['Instances']]

    def _run_raw(self, n, zone):
        """RunInstances of n as one raw signed request: the new ids, or boto3's ClientError for an EC2 error."""
        from botocore.exceptions import ClientError
        headers, body = signed(self.server, {'Action': 'RunInstances', 'ImageId': self.ami, 'InstanceType': INSTANCE_TYPE,
                                             'MinCount': n, 'MaxCount': n, 'Placement.AvailabilityZone': zone})
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port)
        try:
            conn.request('POST', '/', body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        if r.status != 200:
            code = re.search(rb'<Code>([^<]+)</Code>', data)
            error = {'Code': code.group(1).decode() if code else f'HTTP {r.status}', 'Message': data[:300].decode(errors='replace')}
            raise ClientError({'Error': error}, 'RunInstances')
        ids = instance_ids(data)
        if len(ids) != n:
            raise RuntimeError(f'{self.server.name}: RunInstances of {n} answered {len(ids)} instance ids')
        return ids

    def tag_every_100th(self, start):
        marked = [i for k, i in enumerate(self.ids) if k % 100 == 0 and k >= start]
        for k in range(0, len(marked), 500):
            self.ec2.create_tags(Resources=marked[k:k + 500], Tags=[{'Key': TAG_KEY, 'Value': TAG_VALUE}])

    def grow_to(self, n):
        """Brings the fleet to n instances, 1% of them (every 100th) carrying the bench tag."""
        before = len(self.ids)
        if before > n:
            raise RuntimeError(f'{self.server.name}: {before} instances launched before the fleet of {n} was measured')
        self.launch(n - before, boto=False)
        self.tag_every_100th(before)

    def grow_past_addresses(self, n, alive=10_000):
        """Brings the fleet to n visible instances when n is more than the default subnets hold:
        launches in waves and terminates each wave but the last. Terminated instances stay visible
        (and describable by id and tag) for an hour, so all n are in every DescribeInstances."""
        while len(self.ids) < n:
            before = len(self.ids)
            self.grow_to(min(n, before + alive))
            if len(self.ids) >= n:
                break
            wave = self.ids[before:]
            for k in range(0, len(wave), 1000):
                self.ec2.terminate_instances(InstanceIds=wave[k:k + 1000])
            self.wait_released(wave)

    def wait_released(self, wave):
        """Waits until the wave's instances are terminated, so that their addresses are free again."""
        self.wait_state(wave, 'terminated')

    def wait_state(self, wave, state):
        """Waits until the wave's first and last instances are in `state` (the reconciler takes a
        wave in one pass)."""
        deadline = time.time() + 300
        while time.time() < deadline:
            res = self.ec2.describe_instances(InstanceIds=[wave[0], wave[-1]])['Reservations']
            if all(i['State']['Name'] == state for r in res for i in r['Instances']):
                return
            time.sleep(0.2)
        raise RuntimeError(f'{self.server.name}: the wave did not reach {state}')

    def describe_all(self, filters=None):
        pages = self.ec2.get_paginator('describe_instances')
        t = time.perf_counter()
        n = 0
        for page in pages.paginate(**({'Filters': filters} if filters else {})):
            n += sum(len(r['Instances']) for r in page['Reservations'])
        return time.perf_counter() - t, n

    def lookups(self, n):
        """by-id and by-tag (the one-instance probe tag): boto3 median ms, and the raw signed
        request's median ms."""
        count = self.prof['lookups']

        def median_ms(call, times):
            out = []
            started = time.perf_counter()
            for _ in range(times):
                if len(out) >= 5 and time.perf_counter() - started > self.prof['lookup_budget']:
                    break  # a slow server gets fewer samples, not a longer run
                t = time.perf_counter()
                res = call()
                out.append((time.perf_counter() - t) * 1000)
            found = [i['InstanceId'] for x in res['Reservations'] for i in x['Instances']]
            assert found == [self.probe], f'{self.server.name}: lookup found {found}'
            return statistics.median(out)

        by_id = median_ms(lambda: self.ec2.describe_instances(InstanceIds=[self.probe]), count // 4)
        by_tag = median_ms(lambda: self.ec2.describe_instances(Filters=PROBE_FILTER), count // 4)
        raw_id, _ = raw_latency(self.server, {'Action': 'DescribeInstances', 'InstanceId.1': self.probe}, count,
                                budget_s=self.prof['lookup_budget'])
        raw_tag, _ = raw_latency(self.server, {'Action': 'DescribeInstances', 'Filter.1.Name': f'tag:{PROBE_KEY}',
                                               'Filter.1.Value.1': PROBE_VALUE}, count, budget_s=self.prof['lookup_budget'])
        return dict(by_id=by_id, by_tag=by_tag, raw_id=raw_id, raw_tag=raw_tag)

    def raw_describe_subnets(self):
        """Median ms of a raw DescribeSubnets of the region (each answer counts every subnet's free
        addresses, which the fleet's interfaces hold)."""
        median, _ = raw_latency(self.server, {'Action': 'DescribeSubnets'}, self.prof['lookups'], budget_s=self.prof['lookup_budget'])
        return median

    def raw_describe_all(self, keep=None):
        """Median ms of the raw describe of all; `keep` gets its pages' answers (see raw_pages)."""
        params = {'Action': 'DescribeInstances'}
        if self.prof['describe_warmup']:
            raw_pages(self.server, params)
        times, started = [], time.perf_counter()
        while len(times) < DESCRIBE_RUNS and (not times or time.perf_counter() - started < DESCRIBE_BUDGET_S):
            times.append(raw_pages(self.server, params, keep))
        return statistics.median(times)

    def measure_at(self, n):
        r = self.results
        secs, seen = self.describe_all()
        assert seen == n, f'{self.server.name}: paginator saw {seen} of {n}'
        r[f'describe_{n}'] = secs * 1000
        r[f'raw_describe_{n}'] = self.raw_describe_all(keep=self.answers if n == self.prof['fleet'][-1] else None)
        secs, seen = self.describe_all(TAG_FILTER)
        assert seen == (n + 99) // 100, f'{self.server.name}: tag filter found {seen} of {(n + 99) // 100}'
        r[f'describe_tag_{n}'] = secs * 1000
        for k, v in self.lookups(n).items():
            r[f'{k}_{n}'] = v

    def run(self, growth=False):
        r = self.results
        r['startup'] = self.server.start()
        raw_latency(self.server, {'Action': 'DescribeRegions'}, 1, lambda body: self.answers.update({'DescribeRegions ': body}))
        r['rss_idle'] = rss_mb(self.server.proc.pid)
        self.ami = self.image()
        self.zones = sorted(z['ZoneName'] for z in self.ec2.describe_availability_zones()['AvailabilityZones'])
        self.calls = 0
        t = time.perf_counter()
        self.launch(100)
        r['run100'] = (time.perf_counter() - t) * 1000
        self.tag_every_100th(0)
        self.probe = self.ids[50]
        self.ec2.create_tags(Resources=[self.probe], Tags=[{'Key': PROBE_KEY, 'Value': PROBE_VALUE}])
        self.measure_at(100)
        times, ids = boto3_launches(self.ec2, self.ami, self.prof['run_calls'])
        self.ids += ids
        r['run_median'], r['run_p99'] = statistics.median(times), percentile(times, 99)
        # The same call as one signed request replayed (no ClientToken, so each one launches):
        # the server's share of the time above.
        raw = dict(Action='RunInstances', ImageId=self.ami, InstanceType=INSTANCE_TYPE, MinCount=1, MaxCount=1)
        def collect(body):
            self.ids.extend(instance_ids(body))
            self.answers['RunInstances '] = body
        # Timed after a warm-up, for both servers: node's JIT is still optimizing the launch path
        # (TurboFan compiles) for the first several hundred launches, and a server's cost per launch
        # is what it settles at. The warm-up's instances count towards the next fleet size.
        raw_latency(self.server, raw, self.prof['run_warmup'], collect)
        r['raw_run_median'], _ = raw_latency(self.server, raw, self.prof['run_calls'], collect)
        self.tag_every_100th(100)
        for n in self.prof['fleet'][1:]:
            self.grow_to(n)
            self.measure_at(n)
            if growth and n == self.prof['growth'][0]:
                r[f'raw_subnets_{n}'] = self.raw_describe_subnets()
        mem_at = self.prof['mem_at']
        r['rps'] = wrk_rps(self.server, {'Action': 'DescribeInstances', 'InstanceId.1': self.probe}, self.prof['wrk_seconds'], self.prof['wrk_warmup'])
        r['rss_busy'] = rss_mb(self.server.proc.pid)
        # At rest: what a server holding the fleet keeps once requests stop (Nimbus collects
        # garbage after a quiet second; moto keeps what it has).
        time.sleep(REST_S)
        r['rss'] = rss_mb(self.server.proc.pid)
        r['rss_at'] = mem_at
        if growth:
            small, big = self.prof['growth']
            if f'raw_id_{small}' not in r:
                raise RuntimeError('growth baseline missing')
            self.grow_past_addresses(big)
            for k, v in self.lookups(big).items():
                r[f'{k}_{big}'] = v
            # Launches into the big fleet, once its last wave has settled (running): the write
            # path's growth, against raw_run_median taken while the fleet grew to `small`.
            self.wait_state(self.ids[-1000:], 'running')
            r[f'raw_subnets_{big}'] = self.raw_describe_subnets()
            r[f'raw_run_median_{big}'], _ = raw_latency(self.server, raw, self.prof['run_calls'], collect)
            r[f'raw_run_median_{small}'] = r['raw_run_median']
            r['raw_run_empty_subnet'], r['raw_run_full_subnet'] = self.launches_as_subnet_fills(collect)
            # Start-up again on the data directory of the big fleet, against the first start-up's
            # (an empty store): what a restart after an upgrade or a crash waits for.
            self.server.stop()
            r[f'startup_ms_{big}'] = self.server.start() * 1000
            r[f'startup_ms_{small}'] = r['startup'] * 1000
        return r

    def launches_as_subnet_fills(self, collect):
        """Median ms of raw RunInstances into an empty subnet, then into one with all but a few of
        its addresses in use (FULL_SUBNET), one right after the other: the address search's growth
        as a subnet fills. Both are public on launch, as the default subnets are."""
        vpc = self.ec2.create_vpc(CidrBlock=FULL_SUBNET['vpc'])['Vpc']['VpcId']
        launch = dict(Action='RunInstances', ImageId=self.ami, InstanceType=INSTANCE_TYPE)
        medians = []
        for cidr, taken in ((FULL_SUBNET['empty'], 0), (FULL_SUBNET['full'], FULL_SUBNET['taken'])):
            subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)['Subnet']['SubnetId']
            self.ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={'Value': True})
            if taken:
                half = taken // 2
                raw_latency(self.server, {**launch, 'SubnetId': subnet, 'MinCount': half, 'MaxCount': half}, 2, collect)
                self.wait_state(self.ids[-taken:], 'running')  # timed once settled, as the launches above
            median, _ = raw_latency(self.server, {**launch, 'SubnetId': subnet, 'MinCount': 1, 'MaxCount': 1},
                                    FULL_SUBNET['timed'], collect)
            free = self.ec2.describe_subnets(SubnetIds=[subnet])['Subnets'][0]['AvailableIpAddressCount']
            assert free == FULL_SUBNET['usable'] - taken - FULL_SUBNET['timed'], f'{self.server.name}: {free} addresses left'
            medians.append(median)
        return medians




def client_floor(answers, prof):
    """boto3's own time in the rows that it caps: the same calls, timed the same way, against a
    server that does no work (bench/replay-server.mjs, answering each with Nimbus's recorded
    answer). No server can take boto3 below these figures."""
    big = prof['fleet'][-1]
    d = tempfile.mkdtemp(prefix='nimbus-replay-')
    server = Server('replay', lambda port: ['node', 'bench/replay-server.mjs', str(port), d])
    try:
        manifest = {}
        for k, (key, body) in enumerate(answers.items()):
            manifest[key] = f'{k}.xml'
            with open(os.path.join(d, manifest[key]), 'wb') as f:
                f.write(body)
        with open(os.path.join(d, 'answers.json'), 'w') as f:
            json.dump(manifest, f)
        server.start()
        work = Workload(server, prof)
        times, _ = boto3_launches(work.ec2, 'ami-replayed', prof['run_calls'])
        secs, seen = work.describe_all()
        assert seen == big, f'replay: paginator saw {seen} of {big}'
        return {'floor_run_median': statistics.median(times), f'floor_describe_{big}': secs * 1000}
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)


def table(nimbus, moto, prof):
    """Rows of the comparison, each a dict: label, nimbus/moto text, ratio, target, and for the
    targets that boto3 itself may cap, `server` (the paired raw-request row) and `ceiling`."""
    rows = []

    def add(label, key, better, target=None, fmt='{:.1f}'):
        a, b = nimbus.get(key), moto.get(key)
        ratio = None
        if a is not None and b is not None and a > 0 and b > 0:
            ratio = b / a if better == 'lower' else a / b
        row = dict(label=label, key=key, a=fmt.format(a) if a is not None else '-', b=fmt.format(b) if b is not None else '-',
                   ratio=ratio, target=target)
        rows.append(row)
        return row

    def client_bound(row, server_row, floor_key):
        """The best ratio boto3 allows: moto's figure over boto3's against a server that does no work."""
        a, floor, b = nimbus.get(row['key']), nimbus.get(floor_key), moto.get(row['key'])
        if None in (a, floor, b):
            return
        row['server'] = server_row
        row['client_ms'] = floor
        row['beyond_ms'] = a - floor
        row['ceiling'] = b / floor

    for d in (nimbus, moto):
        if 'startup' in d:
            d['startup_ms'] = d['startup'] * 1000
    add('start-up to first DescribeRegions (ms)', 'startup_ms', 'lower', 4, '{:.0f}')
    run = add(f"RunInstances x1, {prof['run_calls']} in a row: median (ms)", 'run_median', 'lower', 10, '{:.2f}')
    add('RunInstances x1: p99 (ms)', 'run_p99', 'lower', None, '{:.2f}')
    client_bound(run, add(f"RunInstances x1, server (raw signed request, after {prof['run_warmup']} untimed): median (ms)",
                          'raw_run_median', 'lower', 10, '{:.2f}'), 'floor_run_median')
    add('RunInstances MaxCount=100, one call (ms)', 'run100', 'lower')
    big = prof['fleet'][-1]
    for n in prof['fleet']:
        target = 30 if n == big else None
        full = add(f'DescribeInstances, all {n:,} (paginator, ms)', f'describe_{n}', 'lower', target)
        server = add(f'DescribeInstances, all {n:,}, server (raw signed requests, every page; median of up to {DESCRIBE_RUNS}, ms)',
                     f'raw_describe_{n}', 'lower', target)
        if target:
            client_bound(full, server, f'floor_describe_{n}')
        add(f'DescribeInstances, tag on 1% of {n:,} (paginator, ms)', f'describe_tag_{n}', 'lower')
        add(f'&nbsp;&nbsp;by id, boto3 median (ms), N={n:,}', f'by_id_{n}', 'lower', None, '{:.2f}')
        add(f'&nbsp;&nbsp;by tag (one instance), boto3 median (ms), N={n:,}', f'by_tag_{n}', 'lower', None, '{:.2f}')
        add(f'&nbsp;&nbsp;by id, server (raw signed request) median (ms), N={n:,}', f'raw_id_{n}', 'lower', None, '{:.2f}')
        add(f'&nbsp;&nbsp;by tag (one instance), server (raw signed request) median (ms), N={n:,}', f'raw_tag_{n}', 'lower', None, '{:.2f}')
    add(f"DescribeInstances by id, wrk {prof['wrk_seconds']} s, N={big:,} (requests/s)", 'rps', 'higher', 30, '{:.0f}')
    add('resident memory (VmRSS) just after start-up, no instances (MB)', 'rss_idle', 'lower', None, '{:.0f}')
    add(f"resident memory (VmRSS), N={prof['mem_at']:,}, just after the by-id burst (MB)", 'rss_busy', 'lower', None, '{:.0f}')
    add(f"resident memory (VmRSS), N={prof['mem_at']:,}, at rest ({REST_S} s after the last request) (MB)", 'rss', 'lower', 3, '{:.0f}')
    small, large = prof['growth']
    growth = []
    for kind in ('id', 'tag'):
        for src, label in (('raw', 'server (raw signed request)'), ('by', 'boto3')):
            a, b = nimbus.get(f'{src}_{kind}_{small}'), nimbus.get(f'{src}_{kind}_{large}')
            if a is None or b is None:
                continue
            growth.append(dict(label=f'by {kind}, {label}', a=a, b=b, growth=b / a, gated=src == 'raw'))

    def gated(label, small_key, large_key, section=None):
        """A gated growth row from Nimbus's two figures, when both were measured."""
        a, b = nimbus.get(small_key), nimbus.get(large_key)
        if a is not None and b is not None:
            growth.append(dict(label=label, a=a, b=b, growth=b / a, gated=True, section=section))

    gated('DescribeSubnets of the region, server (raw signed request)', f'raw_subnets_{small}', f'raw_subnets_{large}')
    gated(f"RunInstances x1, server (raw signed request), median of {prof['run_calls']}",
          f'raw_run_median_{small}', f'raw_run_median_{large}')
    gated(f'start-up to first DescribeRegions, on an empty store (the first start-up) and on the fleet of N={large:,}',
          f'startup_ms_{small}', f'startup_ms_{large}')
    gated(f"RunInstances x1, server (raw signed request), median of {FULL_SUBNET['timed']}",
          'raw_run_empty_subnet', 'raw_run_full_subnet', section='fill')
    return rows, growth


def met(row, factor=1.0):
    """Whether a target row meets factor x its target; a row that boto3 caps below its target is
    judged by its server figure (the part Nimbus controls)."""
    if row['ratio'] is not None and row['ratio'] >= row['target'] * factor:
        return True
    server = row.get('server')
    return bool(server and row['ceiling'] < row['target'] and server['ratio'] and server['ratio'] >= row['target'] * factor)


def render(rows, growth, prof, meta):
    small, large = prof['growth']
    lines = [f"# Nimbus vs moto server{' (quick mode)' if prof['quick'] else ''}", '',
             f"Run on {meta['date']}: {meta['cores']} cores, {meta['mem']} memory, {meta['python']}, node {meta['node']}, "
             f"moto {meta['moto']}, boto3 {meta['boto3']}. Took {meta['took']:.0f} s. Reproduce: "
             f"`npm run bench{' -- --quick' if prof['quick'] else ''}`.", '',
             'Same client (boto3) and workload against each server, one after the other in one run, each on loopback '
             '(Nimbus: `--driver sim --sim-delay-ms 50`, fresh data directory). Ratio: how many times better Nimbus is '
             '(moto/Nimbus for times and memory, Nimbus/moto for throughput). "server (raw signed request)" rows replay '
             'one SigV4-signed request over a kept-alive connection from Python\'s http.client: the server\'s time plus '
             'loopback, without boto3\'s own serializing and parsing. By-id throughput: wrk replaying one signed request '
             f'over 32 connections for the stated time, after {prof["wrk_warmup"]} s of the same that are not counted.', '',
             '| measure | Nimbus | moto | ratio | target | met |', '| --- | ---: | ---: | ---: | ---: | :---: |']
    for r in rows:
        ratio = f"{r['ratio']:.1f}x" if r['ratio'] is not None else '-'
        target = f"≥{r['target']}x" if r['target'] else ''
        ok = ''
        if r['target']:
            ok = 'yes' if r['ratio'] is not None and r['ratio'] >= r['target'] else 'NO'
        lines.append(f"| {r['label']} | {r['a']} | {r['b']} | {ratio} | {target} | {ok} |")
    capped = [r for r in rows if r.get('server')]
    if capped:
        lines += ['', 'What boto3 itself takes in the rows with a target: the same calls, timed the same way, against a '
                  'server that does no work (`bench/replay-server.mjs` answers each request with Nimbus\'s recorded '
                  'answer to it), and the best ratio that leaves possible for any server (moto\'s figure over that floor):', '',
                  '| measure | boto3 against a server that does no work (ms) | Nimbus\'s figure beyond it (ms) '
                  '| best possible ratio through boto3 | server ratio |',
                  '| --- | ---: | ---: | ---: | ---: |']
        for r in capped:
            lines.append(f"| {r['label']} | {r['client_ms']:.1f} | {r['beyond_ms']:.1f} | {r['ceiling']:.1f}x | "
                         f"{r['server']['ratio']:.1f}x |")
    lines += ['', f'Growth of Nimbus\'s lookups from N={small:,} to N={large:,} (target: within 2x), and of its start-up and '
              'launches, held to the same line. By tag: a tag that one instance carries, so the answer has the same '
              f'size at every N. Launches: the timed series above that brings the fleet to N={small:,}, against '
              f'the same series into the fleet of N={large:,} once it has settled. DescribeSubnets: every answer '
              'counts the addresses that the fleet\'s interfaces hold in each subnet. Start-up: the first one, on an '
              f'empty store, against the server started again on the data directory of N={large:,} (its first column '
              f'is not at N={small:,}).', '',
              f'| measure | ms at N={small:,} | ms at N={large:,} | growth | met |', '| --- | ---: | ---: | ---: | :---: |']
    row = lambda g: f"| {g['label']} | {g['a']:.2f} | {g['b']:.2f} | {g['growth']:.2f}x | {'yes' if g['growth'] <= 2 else 'NO'} |"
    lines += [row(g) for g in growth if g.get('section') != 'fill']
    fill = [g for g in growth if g.get('section') == 'fill']
    if fill:
        taken, timed = FULL_SUBNET['taken'], FULL_SUBNET['timed']
        lines += ['', f'Launches as a subnet fills, in the fleet of N={large:,} (held to the same line): {timed} into an '
                  f'empty /22, then, once {taken:,} instances launched into another /22 are running, {timed} into that '
                  f'one as it fills from {taken:,} to {taken + timed:,} of its {FULL_SUBNET["usable"]:,} addresses.', '',
                  '| measure | ms, empty subnet | ms, nearly full subnet | growth | met |', '| --- | ---: | ---: | ---: | :---: |']
        lines += [row(g) for g in fill]
    if large > 25_000:
        lines += ['', f'The default VPC\'s six /20 subnets hold 24,546 addresses, so the fleet of {large:,} is launched '
                  'in waves of 10,000 of which all but the last are terminated: terminated instances stay visible (and '
                  'are found by id and by tag) for an hour, so every lookup runs against all of them.']
    return '\n'.join(lines) + '\n'


def failures(rows, growth, factor):
    """The measures below factor x their target: {label: what was measured}."""
    bad = {}
    for r in rows:
        if r['target'] and not met(r, factor):
            bad[r['label']] = f"{r['ratio'] and round(r['ratio'], 2)}x, below {r['target'] * factor}x"
    for g in growth:
        if g['gated'] and g['growth'] > 2 / factor:
            bad[g['label']] = f"grew {g['growth']:.2f}x, more than {2 / factor}x"
    return bad


def meta():
    mem_kb = next(int(l.split()[1]) for l in open('/proc/meminfo') if l.startswith('MemTotal:'))
    import moto
    node = subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()
    return dict(date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), cores=os.cpu_count(),
                mem=f'{mem_kb / 1024 / 1024:.0f} GiB', python=f'Python {platform.python_version()}', node=node,
                moto=moto.__version__, boto3=boto3.__version__)


def run_once(args, prof, started):
    """One run of the workload against fresh servers: the rows, the growth rows and the table's text."""
    data_dir = tempfile.mkdtemp(prefix='nimbus-bench-')
    node_flags = [f'--cpu-prof', f'--cpu-prof-dir={os.path.abspath(args.profile)}'] if args.profile else []
    nimbus = nimbus_server(data_dir, node_flags + args.node_flags.split())
    moto = Server('moto', lambda port: [sys.executable, '-m', 'moto.server', '-p', str(port)])
    results = {}
    try:
        for server in (nimbus, moto):
            if args.only and server.name != args.only:
                results[server.name] = {}
                continue
            print(f'bench: {server.name} …', file=sys.stderr, flush=True)
            try:
                work = Workload(server, prof)
                results[server.name] = work.run(growth=server is nimbus)
            finally:
                server.stop()
            if server is nimbus:
                print('bench: boto3 against a server that does no work …', file=sys.stderr, flush=True)
                results['nimbus'].update(client_floor(work.answers, prof))
    finally:
        nimbus.stop()
        moto.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    rows, growth = table(results['nimbus'], results['moto'], prof)
    text = render(rows, growth, prof, {**meta(), 'took': time.perf_counter() - started})
    print(text)
    print(f'bench: took {time.perf_counter() - started:.0f} s', file=sys.stderr)
    return rows, growth, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--no-write', action='store_true')
    ap.add_argument('--only', choices=['nimbus', 'moto'])
    ap.add_argument('--profile', metavar='DIR')
    ap.add_argument('--node-flags', default='', metavar='FLAGS',
                    help='extra node flags for Nimbus, for experiments (a run with them does not write RESULTS.md)')
    args = ap.parse_args()
    prof = quick_profile() if args.quick else full_profile()
    # Stopped from outside (CI's time limit, ^C): still stop the servers, in the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_wrk()
    started = time.perf_counter()
    rows, growth, text = run_once(args, prof, started)
    if not args.no_write and not args.quick and not args.only and not args.node_flags and not args.profile:
        path = os.path.join(ROOT, 'bench', 'RESULTS.md')
        # The hand-written analysis below the marker is kept across runs.
        notes = ''
        if os.path.exists(path):
            old = open(path).read()
            if NOTES_MARKER in old:
                notes = '\n' + old[old.index(NOTES_MARKER):]
        with open(path, 'w') as f:
            f.write(text + notes)
    if args.quick and not args.only:
        listed = lambda found: '\n  ' + '\n  '.join(f'{k}: {v}' for k, v in found.items())
        bad = failures(rows, growth, 0.5)
        if bad:
            # A shared machine can slow one run by half: a measure fails the gate only when a second
            # run, from fresh servers, finds it below half its target again. A regression does so.
            print('bench: below half the target, measuring again:' + listed(bad), file=sys.stderr)
            rows, growth, _ = run_once(args, prof, time.perf_counter())
            both = {k: v for k, v in failures(rows, growth, 0.5).items() if k in bad}
            if both:
                print('bench: below half the target in both runs:' + listed(both), file=sys.stderr)
                sys.exit(1)


if __name__ == '__main__':
    main()
