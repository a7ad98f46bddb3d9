/** An error that is part of the API contract: it reaches the client as the protocol's error body. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const missingParameter = (name: string) =>
  new ApiError('MissingParameter', `The request must contain the parameter ${name}`);

export const invalidParameterValue = (message: string) => new ApiError('InvalidParameterValue', message);

export const invalidParameterCombination = (message: string) =>
  new ApiError('InvalidParameterCombination', message);

export const dryRunSucceeded = () =>
  new ApiError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);

/** Turns anything thrown into an ApiError; unexpected errors become a 500 InternalError without internals. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError('InternalError', 'An internal error has occurred', 500);
}
