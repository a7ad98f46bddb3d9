/**
 * The AWS Query protocol (IAM, STS, …): form-encoded parameters in, XML out. Unlike EC2 Query,
 * lists carry `.member.N`, the output sits in `<XResult>` beside `<ResponseMetadata>`, and errors
 * are `<ErrorResponse>` with a Sender/Receiver type.
 */
import { ApiError } from './errors.js';
import type { Operation, ServiceModel } from './model.js';
import { QueryForm } from './query-form.js';
import { paramTree, QueryInputParser } from './query-input.js';
import type { WireProtocol, WireRequest, WireResponse } from './types.js';
import { escapeXml, XmlOutputSerializer, XmlSink } from './xml-output.js';

const XML_TYPE = { 'content-type': 'text/xml;charset=UTF-8' };

export class AwsQueryProtocol implements WireProtocol {
  private readonly parser: QueryInputParser;
  private readonly serializer: XmlOutputSerializer;
  private readonly xmlns: string;
  private readonly form: QueryForm;

  constructor(readonly model: ServiceModel) {
    this.parser = new QueryInputParser(model, 'query');
    this.serializer = new XmlOutputSerializer(model, 'query');
    this.xmlns = model.metadata.xmlNamespace!;
    const { apiVersion } = model.metadata;
    this.form = new QueryForm(model, {
      missing: () => new ApiError('MissingAction', 'Missing Action'),
      unknown: (action) => new ApiError('InvalidAction', `Could not find operation ${action} for version ${apiVersion}`),
      wrongVersion: (action, version) => new ApiError('InvalidAction', `Could not find operation ${action} for version ${version}`),
    });
  }

  operationOf(req: WireRequest): Operation {
    return this.form.operationOf(req);
  }

  decodeInput(op: Operation, req: WireRequest): Record<string, unknown> {
    try {
      return this.parser.parse(op.input, paramTree(this.form.inputEntries(req)));
    } catch (err) {
      // AWS Query services report input problems as ValidationError, in their own words.
      if (err instanceof ApiError && err.code === 'MissingParameter') {
        const member = err.message.replace(/^The request must contain the parameter /, '');
        throw new ApiError('ValidationError', `1 validation error detected: Value null at '${lowerFirst(member)}' failed to satisfy constraint: Member must not be null`);
      }
      if (err instanceof ApiError && err.code === 'InvalidParameterValue') throw new ApiError('ValidationError', err.message);
      throw err;
    }
  }

  encodeOutput(op: Operation, output: Record<string, unknown> | undefined, requestId: string): WireResponse {
    const out = new XmlSink();
    out.push(`<?xml version="1.0" encoding="UTF-8"?>\n<${op.name}Response xmlns="${this.xmlns}">`);
    const wrapper = (op.output as { resultWrapper?: string } | undefined)?.resultWrapper;
    if (wrapper) {
      out.push(`<${wrapper}>`);
      this.serializer.members(op.output, output, out);
      out.push(`</${wrapper}>`);
    }
    out.push(`<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${op.name}Response>`);
    return { status: 200, headers: XML_TYPE, body: out.buffers() };
  }

  encodeError(err: ApiError, requestId: string): WireResponse {
    const type = err.status >= 500 ? 'Receiver' : 'Sender';
    return {
      status: err.status,
      headers: XML_TYPE,
      body:
        `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${this.xmlns}"><Error><Type>${type}</Type>` +
        `<Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error>` +
        `<RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
}

function lowerFirst(s: string): string {
  return s.length ? s[0]!.toLowerCase() + s.slice(1) : s;
}
