import { GraphQLError } from 'graphql';

/**
 * Error codes clients may rely on (DESIGN §5). Each is a fault or a refusal that moved no money;
 * outcomes that did move money (a refund) are returned as union members instead.
 */
export type AppErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'SEAT_UNAVAILABLE'
  | 'PAYMENT_NOT_COMPLETED'
  | 'PAYMENT_ALREADY_USED'
  | 'PAYMENT_NOT_OURS'
  | 'GATEWAY_UNAVAILABLE'
  | 'HOLD_LIMIT_REACHED'
  | 'RATE_LIMITED';

const HTTP_STATUS: Partial<Record<AppErrorCode, number>> = { UNAUTHENTICATED: 401 };

export class AppError extends GraphQLError {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    const status = HTTP_STATUS[code];
    // One BAD_USER_INPUT shape everywhere: `field` (the first offending path) and `fields` (each with its problem).
    const shaped =
      code === 'BAD_USER_INPUT' && typeof extensions.field === 'string' && extensions.fields === undefined
        ? { ...extensions, fields: [{ field: extensions.field, problem: problemOf(message, extensions.field) }] }
        : extensions;
    super(message, { extensions: { code, ...shaped, ...(status ? { http: { status } } : {}) } });
    this.name = 'AppError';
  }
}

/** "input.title: must not be blank" → "must not be blank". */
function problemOf(message: string, field: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

/** A field path and what is wrong with it, as BAD_USER_INPUT errors list them in `extensions.fields`. */
export interface FieldProblem {
  field: string;
  problem: string;
}

export const unauthenticated = (message = 'Sign in: send "Authorization: Bearer <token>"') =>
  new AppError('UNAUTHENTICATED', message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError('FORBIDDEN', message);
export const notFound = (what: string, id: string) => new AppError('NOT_FOUND', `${what} ${id} was not found`);
export const badUserInput = (field: string, message: string) =>
  new AppError('BAD_USER_INPUT', `${field}: ${message}`, { field });
