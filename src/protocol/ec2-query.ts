/** The EC2 Query protocol: form-encoded parameters in, XML out, EC2's error body. */
import { ApiError } from './errors.js';
import type { Operation, ServiceModel } from './model.js';
import { paramTree, QueryInputParser } from './query-input.js';
import type { WireProtocol, WireRequest, WireResponse } from './types.js';
import { escapeXml, XmlOutputSerializer, XmlSink } from './xml-output.js';

/** Parameters that belong to the envelope or to authentication, not to the operation's input. */
export const ENVELOPE = /^(Action|Version|X-Amz-[A-Za-z-]+|AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires)$/;

export function formParams(req: WireRequest): URLSearchParams {
  const params = new URLSearchParams(req.query);
  const type = String(req.headers['content-type'] ?? '');
  if (req.body.length > 0 && (type === '' || type.startsWith('application/x-www-form-urlencoded'))) {
    for (const [k, v] of new URLSearchParams(req.body.toString('utf8'))) params.append(k, v);
  }
  return params;
}

export class Ec2QueryProtocol implements WireProtocol {
  private readonly parser: QueryInputParser;
  private readonly serializer: XmlOutputSerializer;
  private readonly xmlns: string;
  private readonly params = new WeakMap<WireRequest, URLSearchParams>();

  constructor(readonly model: ServiceModel) {
    this.parser = new QueryInputParser(model, 'ec2');
    this.serializer = new XmlOutputSerializer(model, 'ec2');
    this.xmlns = `${model.metadata.xmlNamespace!.replace(/\/$/, '')}/`;
  }

  private paramsOf(req: WireRequest): URLSearchParams {
    let p = this.params.get(req);
    if (!p) this.params.set(req, (p = formParams(req)));
    return p;
  }

  operationOf(req: WireRequest): Operation {
    const params = this.paramsOf(req);
    const action = params.get('Action');
    if (!action) throw new ApiError('MissingAction', 'The request must contain the parameter Action');
    const op = Object.hasOwn(this.model.operations, action) ? this.model.operations[action] : undefined;
    if (!op) throw new ApiError('InvalidAction', `The action ${action} is not valid for this web service.`);
    const version = params.get('Version');
    if (version && version !== this.model.metadata.apiVersion) {
      throw new ApiError('NoSuchVersion', `The requested version (${version}) of service AmazonEC2 does not exist`);
    }
    return op;
  }

  decodeInput(op: Operation, req: WireRequest): Record<string, unknown> {
    const entries = [...this.paramsOf(req)].filter(([k]) => !ENVELOPE.test(k));
    return this.parser.parse(op.input, paramTree(entries));
  }

  encodeOutput(op: Operation, output: Record<string, unknown> | undefined, requestId: string): WireResponse {
    const out = new XmlSink();
    out.push(`<?xml version="1.0" encoding="UTF-8"?>\n<${op.name}Response xmlns="${this.xmlns}"><requestId>${requestId}</requestId>`);
    this.serializer.members(op.output, output, out);
    out.push(`</${op.name}Response>`);
    return { status: 200, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: out.buffers() };
  }

  encodeError(err: ApiError, requestId: string): WireResponse {
    return {
      status: err.status,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body:
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(err.code)}</Code>` +
        `<Message>${escapeXml(err.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
}
