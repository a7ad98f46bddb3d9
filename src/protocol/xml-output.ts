/**
 * Serializes output objects into XML by walking the operation's output shape. Element names,
 * list wrappers (`<instancesSet><item>…`) and scalar formats all come from the model. Writes
 * strings straight into a buffer list: no DOM is built.
 */
import { resolve, type MemberRef, type ServiceModel, type Shape } from './model.js';

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// Characters that XML 1.0 cannot carry at all are dropped rather than breaking the document.
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function escapeXml(s: string): string {
  return s.replace(XML_INVALID, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

export type XmlFlavour = 'ec2' | 'query';

export class XmlOutputSerializer {
  constructor(
    private readonly model: ServiceModel,
    private readonly flavour: XmlFlavour,
  ) {}

  /** Writes the members of `value` (not wrapped) into `out`. */
  members(shapeRef: MemberRef | undefined, value: Record<string, unknown> | undefined, out: string[]): void {
    if (!shapeRef || !value) return;
    const shape = resolve(this.model, shapeRef);
    this.structureBody(shape, value, out);
  }

  private structureBody(shape: Shape, value: Record<string, unknown>, out: string[]): void {
    for (const [name, ref] of Object.entries(shape.members ?? {})) {
      const v = value[name];
      if (v === undefined || v === null) continue;
      const member = resolve(this.model, ref);
      this.element(member.locationName ?? name, member, v, out);
    }
  }

  private element(tag: string, shape: Shape, value: unknown, out: string[]): void {
    switch (shape.type) {
      case 'structure':
        out.push(`<${tag}>`);
        this.structureBody(shape, value as Record<string, unknown>, out);
        out.push(`</${tag}>`);
        return;
      case 'list': {
        const memberShape = resolve(this.model, shape.member!);
        const itemTag = memberShape.locationName ?? (this.flavour === 'ec2' ? 'item' : 'member');
        const items = value as unknown[];
        if (shape.flattened) {
          for (const item of items) this.element(itemTag, memberShape, item, out);
          return;
        }
        out.push(`<${tag}>`);
        for (const item of items) this.element(itemTag, memberShape, item, out);
        out.push(`</${tag}>`);
        return;
      }
      case 'map': {
        const keyShape = resolve(this.model, shape.key!);
        const valueShape = resolve(this.model, shape.value!);
        out.push(`<${tag}>`);
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          out.push('<entry>');
          this.element(keyShape.locationName ?? 'key', keyShape, k, out);
          this.element(valueShape.locationName ?? 'value', valueShape, v, out);
          out.push('</entry>');
        }
        out.push(`</${tag}>`);
        return;
      }
      default:
        out.push(`<${tag}>`, escapeXml(scalarText(shape, value)), `</${tag}>`);
    }
  }
}

function scalarText(shape: Shape, value: unknown): string {
  switch (shape.type) {
    case 'timestamp': {
      const d = value instanceof Date ? value : new Date(value as string | number);
      return d.toISOString();
    }
    case 'blob':
      return Buffer.isBuffer(value) ? value.toString('base64') : Buffer.from(String(value)).toString('base64');
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return String(value);
  }
}
