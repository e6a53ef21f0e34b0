import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { HttpConfig } from '../config';
import { isAnonymousCaller } from '../auth/request-viewer';
import { AppError } from '../errors';

type RateLimits = HttpConfig['rateLimit'];

/** Addresses tracked per route; the least recently seen are dropped past this, bounding memory in a flood. */
const ADDRESSES_TRACKED = 20_000;

/** Route config for POST /webhooks/portone: per client IP (a forged flood costs a PortOne read each). */
export function webhookRateLimit(limits: RateLimits): RateLimitOptions | false {
  if (limits.webhookPerIp === 0) return false;
  return { max: limits.webhookPerIp, timeWindow: limits.windowMs, cache: ADDRESSES_TRACKED };
}

/**
 * Route config for /graphql: per client IP, counting only callers without a verified token or API
 * key (the route's caller hook runs first). Signed-in buyers are limited per buyer where it matters.
 */
export function anonymousRateLimit(limits: RateLimits): RateLimitOptions | false {
  if (limits.anonymousPerIp === 0) return false;
  return {
    max: limits.anonymousPerIp,
    timeWindow: limits.windowMs,
    cache: ADDRESSES_TRACKED,
    allowList: (request) => !isAnonymousCaller(request),
  };
}

export type BuyerLimitedOperation = 'holdSeat' | 'confirmPayment';

/** Per-buyer limits on the operations that lock seats and call PortOne. */
export interface BuyerRateLimiter {
  /** Counts one call by the request's signed-in buyer; throws RATE_LIMITED (HTTP 429, Retry-After) past the limit. */
  consume(request: FastifyRequest, operation: BuyerLimitedOperation): Promise<void>;
}

/**
 * Uses the rate-limit plugin's own store through `createRateLimit`, keyed on the verified buyer id
 * (JWT sub) rather than the address: one buyer on many addresses is still one buyer. Per process.
 */
export function createBuyerRateLimiter(server: FastifyInstance, limits: RateLimits): BuyerRateLimiter {
  const perOperation: Array<[BuyerLimitedOperation, number]> = [
    ['holdSeat', limits.holdSeatPerBuyer],
    ['confirmPayment', limits.confirmPaymentPerBuyer],
  ];
  const checkers = new Map(
    perOperation
      .filter(([, max]) => max > 0)
      .map(([operation, max]) => [
        operation,
        server.createRateLimit({ max, timeWindow: limits.windowMs, keyGenerator: (request) => `${operation}:${buyerIdOf(request)}` }),
      ]),
  );
  return {
    async consume(request, operation) {
      const check = checkers.get(operation);
      if (!check) return;
      const result = await check(request);
      if (result.isAllowed || !result.isExceeded) return;
      const retryAfterSeconds = Math.max(1, result.ttlInSeconds);
      throw new AppError(
        'RATE_LIMITED',
        `${operation}: at most ${result.max} calls per ${Math.round(result.timeWindow / 1000)} s for one buyer; retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds, http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) } },
      );
    },
  };
}

function buyerIdOf(request: FastifyRequest): string {
  const caller = request.caller;
  if (caller === null || 'refusal' in caller || caller.viewer.kind !== 'user') {
    throw new Error('A per-buyer rate limit was checked for a request without a signed-in buyer');
  }
  return caller.viewer.userId;
}
