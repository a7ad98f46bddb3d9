/** IAM's errors, with the HTTP statuses IAM answers them with. */
import { ApiError } from '../../protocol/errors.js';

export const noSuchEntity = (message: string) => new ApiError('NoSuchEntity', message, 404);
export const entityAlreadyExists = (message: string) => new ApiError('EntityAlreadyExists', message, 409);
export const deleteConflict = (message: string) => new ApiError('DeleteConflict', message, 409);
export const limitExceeded = (message: string) => new ApiError('LimitExceeded', message, 409);
export const malformedPolicyDocument = (message: string) => new ApiError('MalformedPolicyDocument', message, 400);
export const invalidInput = (message: string) => new ApiError('InvalidInput', message, 400);
export const validationError = (message: string) => new ApiError('ValidationError', message, 400);

export const noSuchRole = (name: string) => noSuchEntity(`The role with name ${name} cannot be found.`);
export const noSuchInstanceProfile = (name: string) => noSuchEntity(`Instance Profile ${name} cannot be found.`);

/** `1 validation error detected: Value 'x' at 'roleName' failed to satisfy constraint: …` */
export const constraintViolation = (value: string | number, member: string, constraint: string) =>
  validationError(`1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${constraint}`);
