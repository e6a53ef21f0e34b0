import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { ArgumentValidationError } from 'type-graphql';
import type { ValidationError } from 'class-validator';
import { AppError } from './errors';

/** Codes produced by Apollo/graphql-js for malformed requests; safe to show as they are. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * The one place errors leave the server. Our own AppErrors and request errors pass through; argument
 * validation is rewritten to name the fields; anything else is a fault: logged once with its stack,
 * and masked as INTERNAL_SERVER_ERROR so no SQL, stack or secret reaches the client.
 */
export function createErrorFormatter(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) {
      const { http: _http, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    if (original instanceof ArgumentValidationError) {
      const fields = flattenValidationErrors(original.extensions.validationErrors as ValidationError[] | undefined);
      const message = fields.length > 0 ? fields.map((f) => `${f.field}: ${f.problem}`).join('; ') : 'Invalid input';
      return {
        message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT', fields },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code) && !isResolverFault(original, error)) {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    if (isUncodedRequestError(error)) {
      // Apollo refuses some requests with a bare 4xx error (a persisted query whose hash does not match).
      return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
    }
    log.error({ err: original, path: formatted.path }, 'unexpected error while resolving a GraphQL request');
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

function isUncodedRequestError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.path !== undefined || error.extensions.code !== undefined) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** A request error that came out of a resolver (has a path) and is not ours is a fault, not input. */
function isResolverFault(original: unknown, wrapped: unknown): boolean {
  return original !== wrapped && !(original instanceof AppError);
}

function flattenValidationErrors(
  errors: ValidationError[] | undefined,
  prefix = '',
): Array<{ field: string; problem: string }> {
  const out: Array<{ field: string; problem: string }> = [];
  for (const error of errors ?? []) {
    const isIndex = /^\d+$/.test(error.property);
    const field = prefix === '' ? error.property : isIndex ? `${prefix}[${error.property}]` : `${prefix}.${error.property}`;
    for (const problem of Object.values(error.constraints ?? {})) out.push({ field, problem });
    out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}
