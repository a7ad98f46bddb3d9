/**
 * Parses EC2 Query / AWS Query form parameters (`Filter.1.Value.2=x`) into typed input objects
 * by walking the operation's input shape, so that every member's wire name, list layout and type
 * come from the service model.
 */
import { ApiError, invalidParameterValue, missingParameter } from './errors.js';
import { resolve, type MemberRef, type ServiceModel, type Shape } from './model.js';

/** The flat parameters arranged as a tree on their dotted names. */
interface ParamNode {
  value?: string;
  children?: Map<string, ParamNode>;
}

export function paramTree(params: Iterable<[string, string]>): ParamNode {
  const root: ParamNode = {};
  for (const [key, value] of params) {
    let node = root;
    for (const part of key.split('.')) {
      node.children ??= new Map();
      let child = node.children.get(part);
      if (!child) node.children.set(part, (child = {}));
      node = child;
    }
    node.value = value;
  }
  return root;
}

export type WireNaming = 'ec2' | 'query';

/** The name a member has on the wire (see botocore's EC2Serializer/QuerySerializer). */
export function wireName(naming: WireNaming, memberName: string, shape: Shape): string {
  if (naming === 'ec2') {
    if (shape.queryName) return shape.queryName;
    if (shape.locationName) return shape.locationName[0]!.toUpperCase() + shape.locationName.slice(1);
    return memberName;
  }
  return shape.locationName ?? memberName;
}

/** A structure's member as the wire names it, with its place among the shape's members. */
interface WireMember {
  index: number;
  name: string;
  shape: Shape;
  wire: string;
}

export class QueryInputParser {
  /**
   * Each structure's members by wire name, made on first use: a request names a few of a shape's
   * members (RunInstances has some fifty), and parsing looks up those it names.
   */
  private readonly wireMembers = new WeakMap<Shape, Map<string, WireMember[]>>();

  constructor(
    private readonly model: ServiceModel,
    private readonly naming: WireNaming,
  ) {}

  parse(inputRef: MemberRef | undefined, tree: ParamNode): Record<string, unknown> {
    if (!inputRef) return {};
    return this.structure(resolve(this.model, inputRef), tree, '') as Record<string, unknown>;
  }

  private value(shape: Shape, node: ParamNode, path: string): unknown {
    switch (shape.type) {
      case 'structure':
        return this.structure(shape, node, path);
      case 'list':
        return this.list(shape, node, path);
      case 'map':
        return this.map(shape, node, path);
      default:
        if (node.value === undefined) {
          // `Name.1.Foo` given where a scalar `Name` is expected
          throw invalidParameterValue(`Invalid value for parameter ${path}`);
        }
        return scalar(shape, node.value, path);
    }
  }

  private structure(shape: Shape, node: ParamNode, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const byWire = this.membersOf(shape);
    const given: { member: WireMember; child: ParamNode }[] = [];
    for (const [wire, child] of node.children ?? []) {
      for (const member of byWire.get(wire) ?? []) given.push({ member, child });
    }
    // In the shape's order, as when every member was looked for: the same first error, the same keys' order.
    if (given.length > 1) given.sort((a, b) => a.member.index - b.member.index);
    for (const { member, child } of given) {
      out[member.name] = this.value(member.shape, child, path ? `${path}.${member.wire}` : member.wire);
    }
    for (const name of shape.required ?? []) {
      if (out[name] === undefined || out[name] === '') {
        const member = resolve(this.model, shape.members![name]!);
        const wire = wireName(this.naming, name, member);
        throw missingParameter(path ? `${path}.${wire}` : wire);
      }
    }
    return out;
  }

  private membersOf(shape: Shape): Map<string, WireMember[]> {
    let byWire = this.wireMembers.get(shape);
    if (byWire) return byWire;
    byWire = new Map();
    let index = 0;
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const member = resolve(this.model, ref);
      const wire = wireName(this.naming, name, member);
      const same = byWire.get(wire);
      const entry = { index: index++, name, shape: member, wire };
      if (same) same.push(entry);
      else byWire.set(wire, [entry]);
    }
    this.wireMembers.set(shape, byWire);
    return byWire;
  }

  private list(shape: Shape, node: ParamNode, path: string): unknown[] {
    const memberShape = resolve(this.model, shape.member!);
    let items = node.children;
    // AWS Query (non-flattened) lists carry the member name: `Names.member.1`
    if (this.naming === 'query' && !shape.flattened) items = items?.get(memberShape.locationName ?? 'member')?.children;
    if (!items) {
      if (node.value === '') return [];
      throw invalidParameterValue(`Invalid value for parameter ${path}: expected a list (${path}.1, ${path}.2, ...)`);
    }
    const indexed: [number, ParamNode][] = [];
    for (const [key, child] of items) {
      if (!/^[1-9]\d{0,4}$/.test(key)) throw invalidParameterValue(`Invalid list index in parameter ${path}.${key}`);
      indexed.push([Number(key), child]);
    }
    indexed.sort((a, b) => a[0] - b[0]);
    return indexed.map(([i, child]) => this.value(memberShape, child, `${path}.${i}`));
  }

  private map(shape: Shape, node: ParamNode, path: string): Record<string, unknown> {
    const keyShape = resolve(this.model, shape.key!);
    const valueShape = resolve(this.model, shape.value!);
    const entries = shape.flattened ? node.children : node.children?.get('entry')?.children;
    const out: Record<string, unknown> = {};
    for (const [index, entry] of entries ?? []) {
      const k = entry.children?.get(keyShape.locationName ?? 'key');
      const v = entry.children?.get(valueShape.locationName ?? 'value');
      if (k?.value === undefined) throw missingParameter(`${path}.${index}.key`);
      out[k.value] = v ? this.value(valueShape, v, `${path}.${index}.value`) : '';
    }
    return out;
  }
}

const INTEGER = /^[-+]?\d+$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function scalar(shape: Shape, raw: string, path: string): unknown {
  switch (shape.type) {
    case 'string':
      return raw;
    case 'integer':
    case 'long': {
      const n = Number(raw);
      if (!INTEGER.test(raw.trim()) || !Number.isSafeInteger(n) || (shape.type === 'integer' && Math.abs(n) > 2 ** 31 - 1)) {
        throw invalidParameterValue(`Invalid value '${raw}' for ${path}. It must be an integer.`);
      }
      return n;
    }
    case 'double':
    case 'float': {
      if (!NUMBER.test(raw.trim())) throw invalidParameterValue(`Invalid value '${raw}' for ${path}. It must be a number.`);
      return Number(raw);
    }
    case 'boolean': {
      const v = raw.toLowerCase();
      if (v === 'true') return true;
      if (v === 'false') return false;
      throw invalidParameterValue(`Invalid value '${raw}' for ${path}. It must be true or false.`);
    }
    case 'timestamp': {
      const t = /^\d+(\.\d+)?$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
      if (Number.isNaN(t.getTime())) throw invalidParameterValue(`Invalid value '${raw}' for ${path}. It must be a timestamp.`);
      return t;
    }
    case 'blob': {
      if (!isBase64(raw)) throw invalidParameterValue(`Invalid BASE64 encoding of ${path}`);
      return Buffer.from(raw, 'base64');
    }
    default:
      throw new ApiError('InternalError', `unsupported shape type ${shape.type as string}`, 500);
  }
}

export function isBase64(s: string): boolean {
  const t = s.replace(/\s+/g, '');
  return /^[A-Za-z0-9+/]*={0,2}$/.test(t) && t.length % 4 !== 1;
}
