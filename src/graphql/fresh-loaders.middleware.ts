import type { MiddlewareFn } from 'type-graphql';
import type { RequestContext } from './context';

/**
 * On every mutation. One request may hold several mutations, run one after another; each starts with
 * empty loader caches, because what an earlier one loaded or primed (a confirmation primes "no refund")
 * may no longer be true once the next has written (a cancel that adds the refund). Within one
 * mutation's answer the caches stand. Not a global middleware: that would make every field async.
 */
export const FreshLoadersPerMutation: MiddlewareFn<RequestContext> = ({ context }, next) => {
  for (const loader of Object.values(context.loaders)) loader.clearAll();
  return next();
};
