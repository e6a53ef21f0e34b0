import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { ArgumentValidationError, getMetadataStorage } from 'type-graphql';
import type { ValidationError } from 'class-validator';
import { AppError } from '../errors';

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
      const errors = original.extensions.validationErrors as ValidationError[] | undefined;
      const fields = flattenValidationErrors(errors, argumentPathOf(errors?.[0]?.target));
      const message = fields.length > 0 ? fields.map((f) => `${f.field}: ${f.problem}`).join('; ') : 'Invalid input';
      return {
        message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT', field: fields[0]?.field ?? null, fields },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code) && !isResolverFault(original, error)) {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      if (code === 'BAD_USER_INPUT' && extensions.field === undefined) {
        // graphql-js refusing a variable's value: name its path the way the NUL guard does (`$input.seats[0].price`).
        const field = variablePathOf(formatted.message);
        return { ...formatted, extensions: { ...extensions, field, fields: [{ field, problem: formatted.message }] } };
      }
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

/**
 * The argument an input object was passed as (`input` for `createEvent(input: …)`), so validation paths
 * start where the client's do; '' for @Args classes, whose fields are the arguments themselves.
 */
function argumentPathOf(target: unknown): string {
  if (!target || typeof target !== 'object') return '';
  const argument = getMetadataStorage().params.find(
    (param) => param.kind === 'arg' && (param as { getType: () => unknown }).getType() === target.constructor,
  ) as { name?: string } | undefined;
  return argument?.name ?? '';
}

/** `Variable "$input" got invalid value … at "input.seats[0].price"; …` → `$input.seats[0].price`. */
function variablePathOf(message: string): string | null {
  const variable = /^Variable "\$(\w+)"/.exec(message);
  if (!variable) return null;
  const at = / at "([^"]+)"/.exec(message);
  return `$${at ? at[1] : variable[1]}`;
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
