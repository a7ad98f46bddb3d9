/**
 * SSM's public parameters (`/aws/service/…`) that name the latest AMIs of each OS line — GetParameter,
 * GetParameters, GetParametersByPath — and `publicParameter` for RunInstances' `resolve:ssm:`.
 * The parameters come from the region's image catalogue: each points at the newest image of its line.
 */
import type {
  GetParameterRequest,
  GetParameterResult,
  GetParametersByPathRequest,
  GetParametersByPathResult,
  GetParametersRequest,
  GetParametersResult,
  Parameter,
  ParameterStringFilter,
} from '@aws-sdk/client-ssm';
import { regionCatalogue, type PublicImageParameter } from '../../catalog/images.js';
import { ApiError } from '../../protocol/errors.js';
import { paginate } from '../ec2/common/pagination.js';
import type { Handler, RequestContext } from '../context.js';

/** The value of a public parameter in a region (e.g. an AMI id), or undefined. */
export function publicParameter(region: string, name: string): string | undefined {
  return regionCatalogue(region).parameters.get(name)?.image.ImageId;
}

const validation = (message: string) => new ApiError('ValidationException', message);
const parameterNotFound = (name: string) => new ApiError('ParameterNotFound', `Parameter ${name} not found.`);

/** A name with an optional `:version` selector (SSM's `name:version` form). */
function parseSelector(raw: string): { name: string; version?: number } {
  const m = /^(.*):(\d+)$/.exec(raw);
  return m ? { name: m[1]!, version: Number(m[2]) } : { name: raw };
}

function toParameter(p: PublicImageParameter, ctx: RequestContext, selector?: string): Parameter {
  return {
    Name: p.name,
    Type: 'String',
    Value: p.image.ImageId,
    Version: p.version,
    ...(selector ? { Selector: selector } : {}),
    // The parameter last changed when its newest image was published.
    LastModifiedDate: new Date(p.image.CreationDate!),
    ARN: `arn:aws:ssm:${ctx.region}::parameter${p.name}`,
    // What SSM reports for the /aws/service AMI parameters (they are not declared aws:ec2:image).
    DataType: 'text',
  };
}

/** The parameter a GetParameter(s) name selects, or undefined when there is none. */
function lookup(ctx: RequestContext, raw: string): Parameter | undefined {
  const { name, version } = parseSelector(raw);
  const p = regionCatalogue(ctx.region).parameters.get(name);
  if (!p) return undefined;
  // Only the current version of a public parameter is kept.
  if (version !== undefined && version !== p.version) return undefined;
  return toParameter(p, ctx, version !== undefined ? `:${version}` : undefined);
}

function getParameter(input: GetParameterRequest, ctx: RequestContext): GetParameterResult {
  const raw = input.Name!;
  const param = lookup(ctx, raw);
  if (param) return { Parameter: param };
  const { name, version } = parseSelector(raw);
  if (version !== undefined && regionCatalogue(ctx.region).parameters.has(name)) {
    throw new ApiError('ParameterVersionNotFound', `Systems Manager could not find version ${version} of ${name}. Verify the version and try again.`);
  }
  throw parameterNotFound(raw);
}

const MAX_NAMES = 10;

function getParameters(input: GetParametersRequest, ctx: RequestContext): GetParametersResult {
  const names = input.Names ?? [];
  if (names.length < 1 || names.length > MAX_NAMES) {
    throw validation(
      `1 validation error detected: Value '[${names.join(', ')}]' at 'names' failed to satisfy constraint: Member must have length ${names.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_NAMES}`}`,
    );
  }
  const found: Parameter[] = [];
  const invalid: string[] = [];
  for (const raw of new Set(names)) {
    const p = lookup(ctx, raw);
    if (p) found.push(p);
    else invalid.push(raw);
  }
  return { Parameters: found, InvalidParameters: invalid };
}

/** The filter keys GetParametersByPath accepts; public AMI parameters carry no KMS key and no labels. */
const PATH_FILTER_KEYS = ['Type', 'KeyId', 'Label'];

function matchesFilters(p: Parameter, filters: readonly ParameterStringFilter[]): boolean {
  return filters.every((f) => {
    const values = f.Values ?? [];
    switch (f.Key) {
      case 'Type':
        return values.includes(p.Type!);
      default:
        return false; // KeyId and Label: no public parameter has either.
    }
  });
}

function checkPathFilters(filters: readonly ParameterStringFilter[]): void {
  for (const f of filters) {
    if (!PATH_FILTER_KEYS.includes(f.Key ?? '')) {
      throw new ApiError(
        'InvalidFilterKey',
        `The following filter key is not valid: ${f.Key}. Valid filter keys include: [${PATH_FILTER_KEYS.join(', ')}].`,
      );
    }
    if (f.Option !== undefined && f.Option !== 'Equals' && !(f.Key === 'KeyId' && f.Option === 'BeginsWith')) {
      throw new ApiError('InvalidFilterOption', `The filter option is not valid: ${f.Option}. Valid options include: [Equals].`);
    }
  }
}

const MAX_PATH_RESULTS = 10;

function getParametersByPath(input: GetParametersByPathRequest, ctx: RequestContext): GetParametersByPathResult {
  const path = input.Path!;
  if (!path.startsWith('/')) {
    throw validation('The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".');
  }
  const max = input.MaxResults;
  if (max !== undefined && (max < 1 || max > MAX_PATH_RESULTS)) {
    throw validation(
      `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value ${max < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_PATH_RESULTS}`}`,
    );
  }
  const filters = input.ParameterFilters ?? [];
  checkPathFilters(filters);
  const prefix = path.endsWith('/') ? path : `${path}/`;
  const matched = [...regionCatalogue(ctx.region).parameters.values()]
    .filter((p) => p.name.startsWith(prefix) && (input.Recursive === true || !p.name.slice(prefix.length).includes('/')))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((p) => toParameter(p, ctx))
    .filter((p) => matchesFilters(p, filters));
  let page;
  try {
    page = paginate(matched, { maxResults: max, nextToken: input.NextToken, defaultSize: MAX_PATH_RESULTS, key: (p) => p.Name! });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'InvalidPaginationToken') {
      throw new ApiError('InvalidNextToken', 'The specified token isn\'t valid.');
    }
    throw err;
  }
  return { Parameters: page.items, NextToken: page.nextToken };
}

export const handlers: Record<string, Handler> = {
  GetParameter: getParameter,
  GetParameters: getParameters,
  GetParametersByPath: getParametersByPath,
};
