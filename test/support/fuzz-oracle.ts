/**
 * What every answer to a fuzzed request must be: an allowed status (never a 5xx, 501 only for
 * operations of the model Nimbus lacks), text/xml, a well-formed XML 1.0 document read by a real
 * parser, and EC2's error body (or the operation's response element) with a request id.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Expectation, FuzzCall } from './fuzz-requests.js';
import type { WireAnswer } from './fuzz-wire.js';

const parser = new XMLParser({ ignoreAttributes: false, ignoreDeclaration: true, parseTagValue: false, trimValues: false });

// eslint-disable-next-line no-control-regex
const NOT_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Traces of internals that must never reach a client. */
const INTERNALS = /\n\s+at |node:internal|\/src\/|\/dist\/|TypeError|RangeError|URIError|SyntaxError|undefined is not|Cannot read prop/;

type Doc = Record<string, unknown>;

function statusProblem(expect: Expectation, status: number, code: string | undefined): string | undefined {
  const is4xx = status >= 400 && status < 500;
  switch (expect.kind) {
    case 'status':
      return status === expect.status ? undefined : `status ${status}, expected ${expect.status}`;
    case 'error':
      return is4xx ? undefined : `status ${status}, expected a 4xx`;
    case 'any':
      if (is4xx || (status >= 200 && status < 300)) return undefined;
      if (status === 501 && expect.allow501 && code === 'NotImplemented') return undefined;
      return `status ${status} (${code ?? 'no code'}), expected a 2xx or a 4xx${expect.allow501 ? ' or 501 NotImplemented' : ''}`;
  }
}

const isText = (v: unknown): v is string => typeof v === 'string';

function errorBodyProblems(doc: Doc): string[] {
  const keys = Object.keys(doc);
  if (keys.length !== 1 || keys[0] !== 'Response') return [`error body's root is ${keys.join(',')}, not Response`];
  const response = doc.Response as Doc;
  const problems: string[] = [];
  if (Object.keys(response).join(',') !== 'Errors,RequestID') problems.push(`Response holds ${Object.keys(response).join(',')}, not Errors,RequestID`);
  const error = (response.Errors as Doc | undefined)?.Error as Doc | undefined;
  if (!error || Array.isArray(error)) problems.push('no single Errors/Error element');
  else {
    if (!isText(error.Code) || error.Code === '') problems.push('Error has no Code');
    if (!isText(error.Message)) problems.push('Error has no Message');
    else if (INTERNALS.test(error.Message)) problems.push(`Message shows internals: ${error.Message}`);
  }
  if (!isText(response.RequestID) || response.RequestID === '') problems.push('no RequestID');
  return problems;
}

function successBodyProblems(doc: Doc, action: string | undefined): string[] {
  const root = Object.keys(doc);
  if (root.length !== 1 || (action !== undefined && root[0] !== `${action}Response`)) return [`success body's root is ${root.join(',')}`];
  const body = doc[root[0]!] as Doc;
  return isText(body.requestId) && body.requestId !== '' ? [] : ['no requestId'];
}

/** The ways `answer` breaks the contract for `call`; empty when it keeps it. */
export function answerProblems(call: FuzzCall, answer: WireAnswer): string[] {
  const code = /<Code>([^<]*)<\/Code>/.exec(answer.body)?.[1];
  const problems: string[] = [];
  const status = statusProblem(call.expect, answer.status, code);
  if (status) problems.push(status);
  if (!String(answer.headers['content-type'] ?? '').startsWith('text/xml')) problems.push(`content-type ${answer.headers['content-type']}`);
  const bad = NOT_XML_CHARS.exec(answer.body);
  if (bad) problems.push(`a character XML 1.0 cannot carry: U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
  const valid = XMLValidator.validate(answer.body);
  if (valid !== true) return [...problems, `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`];
  const doc = parser.parse(answer.body) as Doc;
  problems.push(...(answer.status >= 300 ? errorBodyProblems(doc) : successBodyProblems(doc, call.action)));
  return problems;
}
