import type { FastifyInstance } from 'fastify';
import './portone-v1-sim-api-guard'; // declares the `config.endpoint` route option
import { envelope, failure, type V1SimContext } from './portone-v1-sim-support';
import { toApiPayment, type SimulatorState, type StoredPayment } from './simulator-state';

/** A merchant_uid's payments (optionally of one status) in `sorting` order (default `-started`). */
export function findSorted(state: SimulatorState, merchantUid: string, status: string | undefined, sorting: string | undefined): StoredPayment[] {
  const key = (sorting ?? '-started').replace(/^-/, '');
  const descending = (sorting ?? '-started').startsWith('-');
  const field = key === 'paid' ? 'paid_at' : key === 'updated' ? 'updated_at' : 'started_at';
  return [...state.payments.values()]
    .filter((p) => p.merchant_uid === merchantUid && (!status || p.status === status))
    .sort((a, b) => {
      const diff = a[field] - b[field] || a.seq - b.seq;
      return descending ? -diff : diff;
    });
}

const validStatus = (status: string | undefined) => !status || ['ready', 'paid', 'failed', 'cancelled'].includes(status);

const LISTING_STATUSES = ['all', 'ready', 'paid', 'cancelled', 'failed'] as const;
const SORTINGS = ['-started', 'started', '-paid', 'paid', '-updated', 'updated'];
const NINETY_DAYS = 90 * 86_400;
/**
 * The Swagger (from/to): "결제건의 최종 status에 따라 다른 검색기준이 적용됩니다" — the window applies to the
 * time of each payment's own status (ready: started, paid: paid, cancelled: cancelled, failed: failed),
 * for `all` as well: a paid payment is listed by when it was paid, not when its window opened.
 */
const windowTime = (payment: StoredPayment): number =>
  ({ ready: payment.started_at, paid: payment.paid_at, cancelled: payment.cancelled_at, failed: payment.failed_at })[payment.status];
/** The parameter as an integer, `fallback` when absent, NaN when it is not an integer. */
const integerParam = (value: string | undefined, fallback: number): number => {
  if (value === undefined || value === '') return fallback;
  return /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
};

/** The V1 read endpoints: one payment by imp_uid, find/findAll by merchant_uid, the time-window listing. */
export function registerV1LookupRoutes(server: FastifyInstance, { state, messages }: Pick<V1SimContext, 'state' | 'messages'>): void {
  server.get<{ Params: { imp_uid: string }; Querystring: { include_sandbox?: string } }>(
    '/payments/:imp_uid',
    { config: { endpoint: 'getPayment' } },
    async (request, reply) => {
      const payment = state.payments.get(request.params.imp_uid);
      const hidden = state.options.includeSandboxFilter && payment?.sandbox && request.query.include_sandbox !== 'true';
      if (!payment || hidden) return reply.code(404).send(failure(-1, messages.notFound));
      return envelope(toApiPayment(payment));
    },
  );

  for (const path of ['/payments/find/:merchant_uid', '/payments/find/:merchant_uid/:payment_status']) {
    server.get<{ Params: { merchant_uid: string; payment_status?: string }; Querystring: { sorting?: string } }>(
      path,
      { config: { endpoint: 'find' } },
      async (request, reply) => {
        if (!validStatus(request.params.payment_status)) return reply.code(400).send(failure(-1, messages.invalidPaymentStatus));
        const [first] = findSorted(state, request.params.merchant_uid, request.params.payment_status, request.query.sorting);
        if (!first) return reply.code(404).send(failure(-1, messages.notFound));
        return envelope(toApiPayment(first));
      },
    );
  }

  for (const path of ['/payments/findAll/:merchant_uid', '/payments/findAll/:merchant_uid/:payment_status']) {
    server.get<{ Params: { merchant_uid: string; payment_status?: string }; Querystring: { sorting?: string; page?: string; limit?: string } }>(
      path,
      { config: { endpoint: 'findAll' } },
      async (request, reply) => {
        if (!validStatus(request.params.payment_status)) return reply.code(400).send(failure(-1, messages.invalidPaymentStatus));
        const all = findSorted(state, request.params.merchant_uid, request.params.payment_status, request.query.sorting);
        if (all.length === 0) return reply.code(404).send(failure(-1, messages.notFound));
        const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 20) || 20));
        const page = Math.max(1, Number(request.query.page ?? 1) || 1);
        return envelope(pageOf(all, page, limit));
      },
    );
  }

  // GET /payments/status/{payment_status}: the time-window listing (Swagger `getPaymentsByStatus`).
  server.get<{ Params: { payment_status: string }; Querystring: { page?: string; limit?: string; from?: string; to?: string; sorting?: string } }>(
    '/payments/status/:payment_status',
    { config: { endpoint: 'list' } },
    async (request, reply) => {
      const status = request.params.payment_status;
      if (!(LISTING_STATUSES as readonly string[]).includes(status)) return reply.code(400).send(failure(-1, messages.invalidPaymentStatus));
      const page = integerParam(request.query.page, 1);
      const limit = integerParam(request.query.limit, 20);
      const windowEnd = integerParam(request.query.to, state.now());
      const windowStart = integerParam(request.query.from, windowEnd - NINETY_DAYS);
      const sorting = request.query.sorting ?? '-started';
      const integers = [page, limit, windowEnd, windowStart].every(Number.isInteger);
      // Outside the Swagger's bounds (limit 1..1000): PortOne's answer is UNCONFIRMED (it may clamp); refusing
      // makes a client that relies on more than 1000 rows per page fail here rather than in production.
      if (!integers || page < 1 || limit < 1 || limit > 1000 || !SORTINGS.includes(sorting)) {
        return reply.code(400).send(failure(-1, messages.invalidListQuery));
      }
      // "검색기간은 최대 90일": the response to a longer window is UNCONFIRMED; refusing it keeps callers honest.
      if (windowStart > windowEnd || windowEnd - windowStart > NINETY_DAYS) return reply.code(400).send(failure(-1, messages.invalidListQuery));
      const field = sorting.endsWith('paid') ? 'paid_at' : sorting.endsWith('updated') ? 'updated_at' : 'started_at';
      const descending = sorting.startsWith('-');
      const matching = [...state.payments.values()]
        .filter((p) => (status === 'all' || p.status === status) && windowTime(p) >= windowStart && windowTime(p) <= windowEnd)
        .sort((a, b) => {
          const diff = a[field] - b[field] || a.seq - b.seq;
          return descending ? -diff : diff;
        });
      // The Swagger answers 400 for "a page beyond the data"; page 1 of an empty listing is an empty page.
      if (page > Math.max(1, Math.ceil(matching.length / limit))) return reply.code(400).send(failure(-1, messages.pageOutOfRange));
      return envelope(pageOf(matching, page, limit));
    },
  );
}

/** One page of a listing in PortOne's paged shape; `previous`/`next` are 0 when there is none. */
function pageOf(all: StoredPayment[], page: number, limit: number) {
  const last = Math.ceil(all.length / limit);
  return {
    total: all.length,
    previous: page > 1 ? page - 1 : 0,
    next: page < last ? page + 1 : 0,
    list: all.slice((page - 1) * limit, page * limit).map(toApiPayment),
  };
}
