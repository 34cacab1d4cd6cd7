/**
 * Auto Scaling API errors as the simulator raises them. The code, the HTTP status and the
 * Sender/Receiver type are what the SDK maps to its exception classes (e.g. `ScalingActivityInProgressFault`
 * for code `ScalingActivityInProgress`, HTTP 400; `ResourceContentionFault` for `ResourceContention`, HTTP 500).
 */

export class AsgApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number = statusFor(code),
    readonly type: 'Sender' | 'Receiver' = httpStatus >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
    this.name = 'AsgApiError';
  }
}

/** Server-side faults the SDK models with HTTP 500 (per its error schemas); everything else is a 400. */
const SERVER_CODES = new Set(['ResourceContention', 'ServiceLinkedRoleFailure', 'InternalFailure', 'ServiceUnavailable']);

export function statusFor(code: string): number {
  return SERVER_CODES.has(code) ? 500 : 400;
}

export function validationError(message: string): AsgApiError {
  return new AsgApiError('ValidationError', message);
}

/** Auto Scaling throttling: one bucket per account and region, code `Throttling`, HTTP 400. */
export function throttlingError(): AsgApiError {
  return new AsgApiError('Throttling', 'Rate exceeded');
}

export function groupNotFound(name: string): AsgApiError {
  return validationError(`AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`);
}

export function missingParameter(param: string): AsgApiError {
  // The shape of AWS's own "required member missing" message (camelCase member name).
  const member = param.charAt(0).toLowerCase() + param.slice(1);
  return validationError(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
}
