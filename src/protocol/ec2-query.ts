/** The EC2 Query protocol: form-encoded parameters in, XML out, EC2's error body. */
import { ApiError } from './errors.js';
import type { Operation, ServiceModel } from './model.js';
import { QueryForm } from './query-form.js';
import { paramTree, QueryInputParser } from './query-input.js';
import type { WireProtocol, WireRequest, WireResponse } from './types.js';
import { escapeXml, XmlOutputSerializer, XmlSink } from './xml-output.js';

export class Ec2QueryProtocol implements WireProtocol {
  private readonly parser: QueryInputParser;
  private readonly serializer: XmlOutputSerializer;
  private readonly xmlns: string;
  private readonly form: QueryForm;

  constructor(readonly model: ServiceModel) {
    this.parser = new QueryInputParser(model, 'ec2');
    this.serializer = new XmlOutputSerializer(model, 'ec2');
    this.xmlns = `${model.metadata.xmlNamespace!.replace(/\/$/, '')}/`;
    this.form = new QueryForm(model, {
      missing: () => new ApiError('MissingAction', 'The request must contain the parameter Action'),
      unknown: (action) => new ApiError('InvalidAction', `The action ${action} is not valid for this web service.`),
      wrongVersion: (_, version) => new ApiError('NoSuchVersion', `The requested version (${version}) of service AmazonEC2 does not exist`),
    });
  }

  operationOf(req: WireRequest): Operation {
    return this.form.operationOf(req);
  }

  decodeInput(op: Operation, req: WireRequest): Record<string, unknown> {
    return this.parser.parse(op.input, paramTree(this.form.inputEntries(req)));
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
