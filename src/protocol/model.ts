/**
 * The official AWS service models (as shipped in the aws-sdk package's apis/ folder) and a
 * resolver that turns their compact, reference-heavy form into shapes one can walk.
 */
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

/** Loads e.g. `ec2-2016-11-15` from the aws-sdk package. */
export function loadModel(id: string): ServiceModel {
  let model = cache.get(id);
  if (!model) {
    model = require(`aws-sdk/apis/${id}.min.json`) as ServiceModel;
    for (const [name, op] of Object.entries(model.operations)) op.name = name;
    cache.set(id, model);
  }
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
