/** The EBS snapshot operations. */
import type { Handler } from '../../context.js';
import { describeSnapshotAttribute, modifySnapshotAttribute, resetSnapshotAttribute } from './attributes.js';
import { copySnapshot, createSnapshot, deleteSnapshot, describeSnapshots } from './snapshots.js';

export const handlers: Record<string, Handler> = {
  CreateSnapshot: createSnapshot,
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  CopySnapshot: copySnapshot,
  ModifySnapshotAttribute: modifySnapshotAttribute,
  DescribeSnapshotAttribute: describeSnapshotAttribute,
  ResetSnapshotAttribute: resetSnapshotAttribute,
};
