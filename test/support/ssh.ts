/**
 * SSH into instances from the host with the OpenSSH client, as a user would: `ssh -i key.pem
 * root@ip`. A throw-away known-hosts policy (every instance has fresh host keys) and a config
 * naming the key, so `-J` jump hosts use it too.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SshResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export class SshClient {
  readonly dir = mkdtempSync(join(tmpdir(), 'nimbus-ssh-'));
  readonly configFile = join(this.dir, 'config');
  private readonly bareConfig = join(this.dir, 'config-without-key');
  readonly keyFile = join(this.dir, 'key.pem');

  /** `keyMaterial`: the key pair's private key, as CreateKeyPair returned it. */
  constructor(keyMaterial: string, private readonly user = 'root') {
    writeFileSync(this.keyFile, keyMaterial, { mode: 0o600 });
    const common = ['Host *', '  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  BatchMode yes', '  ConnectTimeout 4', '  LogLevel ERROR', '  IdentitiesOnly yes'];
    writeFileSync(this.configFile, [...common, `  IdentityFile ${this.keyFile}`, ''].join('\n'));
    writeFileSync(this.bareConfig, [...common, ''].join('\n'));
  }

  /** Runs `command` at `ip` (with another private key file, or through a jump host, if asked). */
  run(ip: string, command: string, opts: { key?: string; jump?: string; input?: string } = {}): SshResult {
    const args = [
      '-F', opts.key ? this.bareConfig : this.configFile, ...(opts.key ? ['-i', opts.key] : []),
      ...(opts.jump ? ['-J', `${this.user}@${opts.jump}`] : []), `${this.user}@${ip}`, command,
    ];
    const r = spawnSync('ssh', args, { encoding: 'utf8', timeout: 20_000, input: opts.input });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** Waits until SSH to `ip` works (the SSH server starts as the instance boots). */
  async ready(ip: string, jump?: string, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = this.run(ip, 'true', { jump });
      if (r.status === 0) return;
      if (Date.now() > end) throw new Error(`ssh to ${ip} never worked: ${r.stderr}`);
      await sleep(200);
    }
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
