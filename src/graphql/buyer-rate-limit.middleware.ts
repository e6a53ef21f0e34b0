import type { MiddlewareFn } from 'type-graphql';
import type { BuyerLimitedOperation } from '../http/rate-limits';
import type { RequestContext } from './context';

/**
 * `@UseMiddleware(LimitPerBuyer('holdSeat'))`: counts the call against the signed-in buyer's limit
 * before the resolver runs. Anonymous and partner callers pass through to the resolver's own refusal.
 */
export function LimitPerBuyer(operation: BuyerLimitedOperation): MiddlewareFn<RequestContext> {
  return async ({ context }, next) => {
    if (context.viewer.kind === 'user') await context.rateLimits.consume(operation);
    return next();
  };
}
