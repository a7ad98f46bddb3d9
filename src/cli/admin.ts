/**
 * `nimbus admin …`: operator commands on a data directory — online backup and restore of its store,
 * and the role credentials an instance's metadata service would hand out.
 */
import { existsSync, statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { openStore } from '../app.js';
import { DEFAULT_ACCOUNT } from '../server/authenticator.js';
import { currentRoleCredentials } from '../services/iam/role-credentials.js';
import { backupStore, restoreStore, storeFile } from '../store/backup.js';

const dataDirOption = ['--data-dir <dir>', 'the data directory', process.env.NIMBUS_DATA_DIR ?? '.nimbus'] as const;

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('operate on a data directory: backup, restore, role credentials');
  admin
    .command('backup')
    .argument('<file>', 'where to write the backup')
    .description('write a consistent backup of the store; safe while a server runs and writes')
    .option(...dataDirOption)
    .action(async (file: string, opts: { dataDir: string }) => {
      if (!existsSync(storeFile(opts.dataDir))) throw new Error(`${opts.dataDir} has no store to back up`);
      const store = openStore(opts.dataDir);
      try {
        await backupStore(store, file);
      } finally {
        await store.close();
      }
      console.log(`backed up ${opts.dataDir} to ${file} (${statSync(file).size} bytes)`);
    });
  admin
    .command('restore')
    .argument('<file>', 'a backup written by `nimbus admin backup`')
    .description('replace the store of a data directory with a backup; refused while a server uses it')
    .option(...dataDirOption)
    .option('--force', 'replace an existing store (its current state is lost)')
    .action(async (file: string, opts: { dataDir: string; force?: boolean }) => {
      await restoreStore(file, opts.dataDir, { force: opts.force });
      console.log(`restored ${file} into ${opts.dataDir}`);
    });
  admin
    .command('role-credentials')
    .description("print the current credentials of an instance's IAM role as JSON (what its metadata service serves); safe while a server runs")
    .option(...dataDirOption)
    .requiredOption('--instance-id <id>', 'the instance')
    .requiredOption('--region <region>', "the instance's region")
    .option('--account <id>', "the instance's account", DEFAULT_ACCOUNT)
    .option('--duration-seconds <n>', 'issue fresh credentials valid this long (at least 1) instead of the current ones', positiveInteger)
    .action(async (opts: { dataDir: string; instanceId: string; region: string; account: string; durationSeconds?: number }) => {
      if (!existsSync(storeFile(opts.dataDir))) throw new Error(`${opts.dataDir} has no store`);
      const store = openStore(opts.dataDir);
      try {
        const scope = { account: opts.account, region: opts.region };
        const creds = await store.transaction(() =>
          currentRoleCredentials(store, scope, opts.instanceId, new Date(), { durationSeconds: opts.durationSeconds }));
        if (!creds) throw new Error(`instance ${opts.instanceId} has no IAM role (no instance profile, or a profile without a role)`);
        console.log(JSON.stringify(creds, null, 2));
      } finally {
        await store.close();
      }
    });
}

function positiveInteger(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new InvalidArgumentError('must be a whole number of seconds, at least 1');
  return n;
}
