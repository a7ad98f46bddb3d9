/**
 * EC2's volume types and their size, IOPS and throughput rules (CreateVolume, ModifyVolume and the
 * root volumes of RunInstances share them), with EC2's error codes and messages.
 */
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';

interface TypeRules {
  minSize: number;
  maxSize: number;
  /** Provisioned IOPS: the bounds, the most per GiB, and the default when not given (undefined: required). */
  iops?: { min: number; max: number; perGiB: number; default?: number };
  /** gp3 only: MiB/s bounds and the most MiB/s per provisioned IOPS. */
  throughput?: { min: number; max: number; perIops: number; default: number };
  multiAttach: boolean;
}

export const VOLUME_TYPES: Readonly<Record<string, TypeRules>> = {
  gp2: { minSize: 1, maxSize: 16384, multiAttach: false },
  gp3: {
    minSize: 1, maxSize: 16384, multiAttach: false,
    iops: { min: 3000, max: 16000, perGiB: 500, default: 3000 },
    throughput: { min: 125, max: 1000, perIops: 0.25, default: 125 },
  },
  io1: { minSize: 4, maxSize: 16384, multiAttach: true, iops: { min: 100, max: 64000, perGiB: 50 } },
  io2: { minSize: 4, maxSize: 16384, multiAttach: true, iops: { min: 100, max: 64000, perGiB: 1000 } },
  st1: { minSize: 125, maxSize: 16384, multiAttach: false },
  sc1: { minSize: 125, maxSize: 16384, multiAttach: false },
  standard: { minSize: 1, maxSize: 1024, multiAttach: false },
};

/** gp2's baseline: 3 IOPS per GiB, at least 100 and at most 16000. */
const gp2Iops = (size: number) => Math.min(16000, Math.max(100, 3 * size));

export interface VolumeSpec {
  VolumeType: string;
  Size: number;
  Iops?: number;
  Throughput?: number;
  MultiAttachEnabled: boolean;
}

export function typeRules(type: string): TypeRules {
  const rules = Object.hasOwn(VOLUME_TYPES, type) ? VOLUME_TYPES[type] : undefined;
  if (!rules) {
    throw invalidParameterValue(
      `Value (${type}) for parameter volumeType is invalid. Valid values: ${Object.keys(VOLUME_TYPES).join(', ')}.`,
    );
  }
  return rules;
}

export function checkSize(type: string, size: number): void {
  const r = typeRules(type);
  if (!Number.isInteger(size) || size < r.minSize) {
    throw invalidParameterValue(`Volume of size ${size}GiB is too small; minimum is ${r.minSize}GiB.`);
  }
  if (size > r.maxSize) throw invalidParameterValue(`Volume of ${size}GiB is too large; maximum is ${r.maxSize}GiB.`);
}

/**
 * Validates a requested volume and fills in what EC2 derives: gp2's baseline IOPS, gp3's default
 * IOPS and throughput. Iops or Throughput on a type that does not take them is EC2's
 * InvalidParameterCombination.
 */
export function resolveSpec(want: { VolumeType: string; Size: number; Iops?: number; Throughput?: number; MultiAttachEnabled?: boolean }): VolumeSpec {
  const type = want.VolumeType;
  const r = typeRules(type);
  checkSize(type, want.Size);
  if (want.Iops !== undefined && !r.iops) throw invalidParameterCombination(`The parameter iops is not supported for ${type} volumes.`);
  if (want.Throughput !== undefined && !r.throughput) {
    throw invalidParameterCombination(`The parameter throughput is not supported for ${type} volumes.`);
  }
  if (want.MultiAttachEnabled && !r.multiAttach) {
    throw invalidParameterCombination(`The parameter multiAttachEnabled is not supported for ${type} volumes.`);
  }
  let iops: number | undefined;
  if (r.iops) {
    iops = want.Iops ?? r.iops.default;
    if (iops === undefined) throw new ApiError('MissingParameter', `The parameter iops must be specified for ${type} volumes.`);
    if (iops < r.iops.min) throw invalidParameterValue(`Volume iops of ${iops} is too low; minimum is ${r.iops.min}.`);
    if (iops > r.iops.max) throw invalidParameterValue(`Volume iops of ${iops} is too high; maximum is ${r.iops.max}.`);
    // gp3's floor of 3000 IOPS holds at every size; the ratio limits only what is asked above it.
    if (want.Iops !== undefined && iops > r.iops.min && iops / want.Size > r.iops.perGiB) {
      throw invalidParameterValue(
        `Iops to volume size ratio of ${(iops / want.Size).toFixed(6)} is too high; maximum is ${r.iops.perGiB.toFixed(6)}.`,
      );
    }
  } else if (type === 'gp2') {
    iops = gp2Iops(want.Size);
  }
  let throughput: number | undefined;
  if (r.throughput) {
    throughput = want.Throughput ?? r.throughput.default;
    if (throughput < r.throughput.min) {
      throw invalidParameterValue(`Throughput of ${throughput}MiB/s is too low; minimum is ${r.throughput.min}MiB/s.`);
    }
    if (throughput > r.throughput.max) {
      throw invalidParameterValue(`Throughput of ${throughput}MiB/s is too high; maximum is ${r.throughput.max}MiB/s.`);
    }
    if (throughput > r.throughput.min && throughput / iops! > r.throughput.perIops) {
      throw invalidParameterValue(
        `Throughput (MiBps) to iops ratio of ${(throughput / iops!).toFixed(6)} is too high; maximum is ${r.throughput.perIops.toFixed(6)} MiBps per iops.`,
      );
    }
  }
  return { VolumeType: type, Size: want.Size, Iops: iops, Throughput: throughput, MultiAttachEnabled: want.MultiAttachEnabled ?? false };
}

/** The spec of a launch's volume, where nothing was validated beyond its size: EC2's derived values, no errors. */
export function launchSpec(type: string, size: number): VolumeSpec {
  try {
    return resolveSpec({ VolumeType: type, Size: size });
  } catch {
    return { VolumeType: type, Size: size, MultiAttachEnabled: false };
  }
}
