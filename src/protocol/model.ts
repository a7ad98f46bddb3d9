/**
 * The official AWS service models (as shipped in the aws-sdk package's apis/ folder) and a
 * resolver that turns their compact, reference-heavy form into shapes one can walk.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface Shape {
  type: 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'boolean' | 'timestamp' | 'blob' | 'double' | 'float';
  members?: Record<string, MemberRef>;
  required?: string[];
  member?: MemberRef;
  key?: MemberRef;
  value?: MemberRef;
  flattened?: boolean;
  locationName?: string;
  queryName?: string;
  idempotencyToken?: boolean;
  timestampFormat?: string;
  enum?: string[];
  min?: number;
  max?: number;
}

/** A member: a reference to a named shape plus serialization traits, or an inline shape. */
export type MemberRef = Partial<Shape> & { shape?: string };

export interface Operation {
  name: string;
  input?: MemberRef;
  output?: MemberRef;
  http?: { method: string; requestUri: string };
}

export interface ServiceModel {
  metadata: {
    apiVersion: string;
    endpointPrefix: string;
    protocol: string;
    targetPrefix?: string;
    jsonVersion?: string;
    xmlNamespace?: string;
    signingName?: string;
  };
  operations: Record<string, Operation>;
  shapes: Record<string, MemberRef>;
}

const require = createRequire(import.meta.url);
const cache = new Map<string, ServiceModel>();

/** Loads e.g. `ec2-2016-11-15` from the aws-sdk package, whole and shared. */
export function loadModel(id: string): ServiceModel {
  let model = cache.get(id);
  if (!model) {
    model = require(`aws-sdk/apis/${id}.min.json`) as ServiceModel;
    nameOperations(model);
    cache.set(id, model);
  }
  return model;
}

function nameOperations(model: ServiceModel): void {
  for (const [name, op] of Object.entries(model.operations)) op.name = name;
}

/**
 * The model as a server of the `served` operations needs it, read apart from loadModel's shared
 * copy (which stays whole for whoever walks every operation). Every operation stays, so that an
 * unserved one is still recognised (and answered NotImplemented before its input is read); only
 * the served ones keep their input, output and errors, and only the shapes those reach are kept.
 * Held by a server for good, this is 1.3 MB less heap for EC2, SSM and IAM together.
 */
export function servedModel(id: string, served: Iterable<string>): ServiceModel {
  const model = JSON.parse(readFileSync(require.resolve(`aws-sdk/apis/${id}.min.json`), 'utf8')) as ServiceModel;
  nameOperations(model);
  const keep = new Set(served);
  const reached = new Set<string>();
  const reach = (ref: MemberRef | undefined): void => {
    if (!ref) return;
    if (ref.shape !== undefined && !reached.has(ref.shape)) {
      reached.add(ref.shape);
      reach(model.shapes[ref.shape]);
    }
    for (const member of Object.values(ref.members ?? {})) reach(member);
    reach(ref.member);
    reach(ref.key);
    reach(ref.value);
  };
  for (const op of Object.values(model.operations) as (Operation & { errors?: MemberRef[] })[]) {
    if (keep.has(op.name)) {
      reach(op.input);
      reach(op.output);
      for (const error of op.errors ?? []) reach(error);
    } else {
      delete op.input;
      delete op.output;
      delete op.errors;
    }
  }
  model.shapes = Object.fromEntries(Object.entries(model.shapes).filter(([name]) => reached.has(name)));
  return model;
}

const resolved = new WeakMap<MemberRef, Shape>();

/**
 * Resolves a member to its full shape: the referenced shape's definition with the member's own
 * traits (locationName, queryName, …) laid over it. Results are memoised per member object.
 */
export function resolve(model: ServiceModel, ref: MemberRef): Shape {
  let shape = resolved.get(ref);
  if (shape) return shape;
  if (ref.shape) {
    const target = resolve(model, model.shapes[ref.shape]!);
    const { shape: _name, ...traits } = ref;
    shape = { ...target, ...traits, type: target.type };
    // locationName on a referenced structure does not describe the member
    if (!('locationName' in traits)) delete shape.locationName;
    if (!('queryName' in traits)) delete shape.queryName;
  } else {
    shape = { type: 'string', ...ref } as Shape;
    if (!shape.type) shape.type = shape.members ? 'structure' : 'string';
  }
  resolved.set(ref, shape);
  return shape;
}
