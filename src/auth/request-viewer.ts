import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors';
import type { PartnerService } from '../partner/partner.service';
import type { JwtIdentity, Viewer } from './identity';

/** The credentials of a request, checked once: a viewer, or the refusal to hand to the client. */
export type CallerResolution = { viewer: Viewer } | { refusal: AppError };

declare module 'fastify' {
  interface FastifyRequest {
    caller: CallerResolution | null;
  }
}

/**
 * An `onRequest` hook that resolves the caller from `Authorization` or `X-API-Key` before the body is
 * read, so the anonymous rate limit can tell a verified caller from one that only sends a header. A
 * refused credential is kept and thrown from the GraphQL context, where it becomes a 401 response.
 */
export function resolveCallerHook(
  server: FastifyInstance,
  deps: { identity: JwtIdentity; partners: PartnerService; newEntityManager: () => EntityManager },
) {
  server.decorateRequest('caller', null);
  return async (request: FastifyRequest): Promise<void> => {
    try {
      request.caller = { viewer: await viewerOf(request, deps) };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      request.caller = { refusal: error };
    }
  };
}

async function viewerOf(
  request: FastifyRequest,
  deps: { identity: JwtIdentity; partners: PartnerService; newEntityManager: () => EntityManager },
): Promise<Viewer> {
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && request.headers.authorization) {
    throw new AppError('UNAUTHENTICATED', 'Send either Authorization or X-API-Key, not both');
  }
  return typeof apiKey === 'string' && apiKey.trim() !== ''
    ? deps.partners.viewerFromApiKey(deps.newEntityManager(), apiKey)
    : deps.identity.viewerFromAuthorization(request.headers.authorization);
}

/** Anonymous for rate limiting: no credentials, or credentials that were refused. */
export function isAnonymousCaller(request: FastifyRequest): boolean {
  const caller = request.caller;
  return caller === null || 'refusal' in caller || caller.viewer.kind === 'anonymous';
}

/** The viewer for the GraphQL context; a refused credential is thrown here so Apollo answers 401. */
export function viewerOfRequest(request: FastifyRequest): Viewer {
  const caller = request.caller;
  if (caller === null) throw new Error('The caller was not resolved: the route lacks resolveCallerHook');
  if ('refusal' in caller) throw caller.refusal;
  return caller.viewer;
}
