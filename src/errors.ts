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

/**
 * Every `extensions.code` a client can meet, with what to do about it. Printed into the schema's own
 * description (so GraphiQL and codegen users see it) and into the README's table.
 */
export const ERROR_CODES: Readonly<Record<AppErrorCode | 'GRAPHQL_PARSE_FAILED' | 'GRAPHQL_VALIDATION_FAILED' | 'BAD_REQUEST' | 'INTERNAL_SERVER_ERROR', string>> = {
  UNAUTHENTICATED: 'No usable token: send "Authorization: Bearer <JWT>" (or X-API-Key for partner queries). HTTP 401.',
  FORBIDDEN: 'Signed in, but not allowed (an admin-only field, another buyer\'s reservation).',
  NOT_FOUND: 'The id names nothing you can see.',
  BAD_USER_INPUT: 'An argument is wrong: `extensions.field` is the first offending path (`input.seats[1].price`, or `$input.seatId` for a variable) and `extensions.fields` lists each `{ field, problem }`.',
  SEAT_UNAVAILABLE: 'holdSeat: someone else holds or booked the seat, or its event has started. Holding a seat you already hold returns your hold instead.',
  HOLD_LIMIT_REACHED: 'holdSeat: you hold the most seats of this event allowed at once (`extensions.limit`); pay for or cancel one.',
  PAYMENT_NOT_COMPLETED: 'confirmPayment: PortOne does not show the payment as paid (yet). Nothing was charged or refunded; a webhook settles it if it completes later.',
  PAYMENT_ALREADY_USED: 'confirmPayment: the payment backs another reservation; that one is settled, this one is untouched.',
  PAYMENT_NOT_OURS: 'confirmPayment: the payment\'s order id is none of this server\'s; nothing was cancelled.',
  GATEWAY_UNAVAILABLE: 'PortOne could not be reached. Retry later: the webhook or reconciliation finishes the payment meanwhile, and no money is lost.',
  RATE_LIMITED: 'Too many requests of this kind; wait `extensions.retryAfterSeconds` (also the Retry-After header).',
  GRAPHQL_PARSE_FAILED: 'The document is not valid GraphQL (or too long). HTTP 400.',
  GRAPHQL_VALIDATION_FAILED: 'The document does not fit the schema, or exceeds the depth (8), cost or alias limits (fragments count as if written inline). HTTP 400.',
  BAD_REQUEST: 'The HTTP request itself is wrong (method, content type, missing CSRF-safe header). HTTP 400.',
  INTERNAL_SERVER_ERROR: 'A fault on our side, logged with the request id; the message says nothing more. Money is safe: a paid order is settled or refunded by the server.',
};

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
