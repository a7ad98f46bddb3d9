/**
 * DescribeVolumes filters by status on the stored record before it presents anything, and
 * presents a moment later: statesFrom must hold every state the volume can show by then.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { statesFrom, volumeState, type VolumeRecord } from '../src/services/ec2/volumes/record.js';

const iso = (ms: number) => new Date(ms).toISOString();

const attachment = fc.record({
  attachedAt: fc.integer({ min: 0, max: 2_000 }),
  detachedAt: fc.option(fc.integer({ min: 0, max: 4_000 }), { nil: undefined }),
});

const volume = fc.record({ availableAt: fc.integer({ min: 0, max: 2_000 }), attachments: fc.array(attachment, { maxLength: 3 }) })
  .map(({ availableAt, attachments }): VolumeRecord => ({
    VolumeId: 'vol-0123456789abcdef0', OwnerId: '000000000000', AvailabilityZone: 'us-east-1a', CreateTime: iso(0),
    availableAt: iso(availableAt), Size: 8, VolumeType: 'gp2', Encrypted: false, MultiAttachEnabled: false,
    Attachments: attachments.map((a, i) => ({
      InstanceId: `i-${i}`, Device: `/dev/sd${'fgh'[i]}`, AttachTime: iso(a.attachedAt), attachedAt: iso(a.attachedAt),
      detachedAt: a.detachedAt === undefined ? undefined : iso(Math.max(a.attachedAt, a.detachedAt)),
    })),
  }));

describe('statesFrom', () => {
  it('holds the state of the volume at any later time', () => {
    fc.assert(fc.property(volume, fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 5_000 }), (vol, from, later) => {
      const states = statesFrom(vol, new Date(from));
      assert.ok(states.includes(volumeState(vol, new Date(from))));
      assert.ok(states.includes(volumeState(vol, new Date(from + later))), `${JSON.stringify(vol)} at ${from} + ${later}: ${states}`);
    }), { numRuns: 2_000 });
  });

  it('is the one state of a volume that can no longer change', () => {
    const vol: VolumeRecord = {
      VolumeId: 'vol-0123456789abcdef0', OwnerId: '000000000000', AvailabilityZone: 'us-east-1a', CreateTime: iso(0),
      availableAt: iso(100), Size: 8, VolumeType: 'gp2', Encrypted: false, MultiAttachEnabled: false, Attachments: [],
    };
    assert.deepEqual(statesFrom(vol, new Date(50)), ['creating', 'available', 'in-use']);
    assert.deepEqual(statesFrom(vol, new Date(200)), ['available']);
  });
});
