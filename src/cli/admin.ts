/** `nimbus admin …`: operator commands on a data directory — online backup and restore of its store. */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { openStore } from '../app.js';
import { backupStore, restoreStore, storeFile } from '../store/backup.js';

const dataDirOption = ['--data-dir <dir>', 'the data directory', process.env.NIMBUS_DATA_DIR ?? '.nimbus'] as const;

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('operate on a data directory: backup and restore');
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
}
