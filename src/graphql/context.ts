import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Viewer } from '../auth/identity';
import { createBookingLoaders } from '../booking/booking.loaders';
import type { BuyerLimitedOperation } from '../http/rate-limits';
import { createPaymentLoaders } from '../payment/graphql/payment.loaders';

export type Locale = 'ko' | 'en';

/** Everything one GraphQL request may use; built fresh per request (own EntityManager fork, own loaders). */
export interface RequestContext {
  em: EntityManager;
  viewer: Viewer;
  locale: Locale;
  log: Logger;
  loaders: ReturnType<typeof createRequestLoaders>;
  /** Per-buyer limits bound to this request (see LimitPerBuyer). */
  rateLimits: { consume(operation: BuyerLimitedOperation): Promise<void> };
}

export function createRequestLoaders(em: EntityManager, options: { holdGraceMs: number } = { holdGraceMs: 0 }) {
  return { ...createBookingLoaders(em, options), ...createPaymentLoaders(em) };
}

/** Korean unless the client asks for English first. */
export function localeFromAcceptLanguage(header: string | undefined): Locale {
  if (!header) return 'ko';
  const first = header.split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('en') ? 'en' : 'ko';
}
