/**
 * Starts a real `bin/nimbus serve` process for a test, on a free port and a fresh data
 * directory, and gives real clients for it: SDK v3, the AWS CLI and boto3.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';

export const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/nimbus');

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const TEST_CREDENTIALS: Credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface ServerOptions {
  args?: string[];
  dataDir?: string;
  host?: string;
  /** The compute driver (`--driver`); sim unless a test asks for another. */
  driver?: 'auto' | 'sim' | 'ns';
  /** Added to the server's environment (bin/nimbus passes NIMBUS_NODE_FLAGS to node). */
  env?: NodeJS.ProcessEnv;
}

export class NimbusProcess {
  url = '';
  private child?: ChildProcess;
  output = '';
  readonly dataDir: string;
  private readonly ownsDataDir: boolean;

  constructor(private readonly opts: ServerOptions = {}) {
    this.ownsDataDir = !opts.dataDir;
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nimbus-test-'));
  }

  /** Starts the server and resolves once it prints its listening line. */
  async start(): Promise<this> {
    const args = ['serve', '--port', '0', '--host', this.opts.host ?? '127.0.0.1', '--data-dir', this.dataDir,
      '--driver', this.opts.driver ?? 'sim', ...(this.opts.args ?? [])];
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.opts.env } });
    this.child = child;
    this.output = ''; // a previous run's listening line must not be taken for this one's
    this.url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.output}`)), 20_000);
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(this.output);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.output}`));
      });
    });
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM and wait for a clean exit; returns the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL: a crash. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(sig);
    const code = await exited;
    this.child = undefined;
    return code;
  }

  async restart(): Promise<this> {
    await this.stop();
    this.output = '';
    return this.start();
  }

  /** Stops the server and removes its data directory (if the test did not supply one). */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  ec2(opts: { region?: string; credentials?: Credentials } = {}): EC2Client {
    return new EC2Client({
      endpoint: this.url,
      region: opts.region ?? 'us-east-1',
      credentials: opts.credentials ?? TEST_CREDENTIALS,
      maxAttempts: 1,
    });
  }

  /** Environment for the AWS CLI and boto3 pointed at this server. */
  env(opts: { region?: string; credentials?: Credentials } = {}): NodeJS.ProcessEnv {
    const c = opts.credentials ?? TEST_CREDENTIALS;
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: c.accessKeyId,
      AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
      ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : {}),
      AWS_DEFAULT_REGION: opts.region ?? 'us-east-1',
      AWS_ENDPOINT_URL: this.url,
      AWS_MAX_ATTEMPTS: '1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    };
  }

  /** Runs the AWS CLI; returns exit status, parsed JSON stdout (if any) and stderr. */
  aws(args: string[], opts: { region?: string; credentials?: Credentials } = {}): CliResult {
    const r = spawnSync('aws', [...args, '--output', 'json'], { env: this.env(opts), encoding: 'utf8', timeout: 60_000 });
    let json: unknown;
    if (r.stdout.trim()) {
      try {
        json = JSON.parse(r.stdout);
      } catch {
        json = undefined;
      }
    }
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
  }

  /**
   * Runs a Python script with boto3 against the server. The script gets `ec2` (a boto3 EC2
   * client), `session` and `json`; whatever it assigns to `result` is returned as JSON.
   */
  boto3(script: string, opts: { region?: string; credentials?: Credentials } = {}): unknown {
    const prelude = [
      'import boto3, json, botocore',
      'session = boto3.session.Session()',
      'ec2 = session.client("ec2")',
      'result = None',
    ].join('\n');
    const epilogue = '\nprint("__RESULT__" + json.dumps(result, default=str))';
    const r = spawnSync('python3', ['-c', `${prelude}\n${script}\n${epilogue}`], {
      env: this.env(opts),
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`boto3 script failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('__RESULT__'));
    return line ? JSON.parse(line.slice('__RESULT__'.length)) : undefined;
  }
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  json: unknown;
}

/** The error code an AWS CLI failure printed: `An error occurred (Code) when calling …`. */
export function cliErrorCode(r: CliResult): string | undefined {
  return /An error occurred \(([^)]+)\)/.exec(r.stderr)?.[1];
}

export async function startServer(opts: ServerOptions = {}): Promise<NimbusProcess> {
  return new NimbusProcess(opts).start();
}

/** Creates an account through the CLI; returns its credentials. */
export function createAccount(dataDir: string, name = 'test'): Credentials & { accountId: string } {
  const r = spawnSync(BIN, ['accounts', 'create', '--name', name, '--data-dir', dataDir, '--json'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`accounts create failed: ${r.stderr}`);
  const a = JSON.parse(r.stdout) as { accountId: string; accessKeyId: string; secretAccessKey: string };
  return { accountId: a.accountId, accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey };
}

/** Awaits a promise that must reject with an AWS SDK error; returns the error's code. */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { name?: string; Code?: string };
    return e.Code ?? e.name ?? 'unknown';
  }
  throw new Error('expected the call to fail');
}
