import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail, INVALID_JSON, type Body, type V2SimulatorContext } from './portone-v2-simulator-context';
import { answerWithFault } from './portone-v2-simulator-faults';
import type { StoredV2Payment } from './portone-v2-simulator-payment-shapes';

const DEFAULT_PAGE_SIZE = 10;

/**
 * The V2 API's guard and read routes: `GET /payments/{id}`, `GET /payments` and
 * `POST /payments/{id}/virtual-account/close`. Routes marked `config.v2Api` are counted and authenticated.
 */
export function registerV2ApiRoutes(server: FastifyInstance, { state, options, stores, render }: V2SimulatorContext): void {
  const isApi = (request: FastifyRequest) => (request.routeOptions.config as { v2Api?: boolean } | undefined)?.v2Api === true;

  const apiSockets = new WeakSet<object>();
  server.addHook('onRequest', async (request) => {
    if (!isApi(request) || apiSockets.has(request.raw.socket)) return;
    apiSockets.add(request.raw.socket);
    state.apiConnections += 1;
  });

  server.addHook('onRequest', async (request, reply) => {
    if (!isApi(request)) return;
    // UNCONFIRMED: whether the scheme is case-sensitive; accepted either way.
    const match = /^portone\s+(.+)$/i.exec(String(request.headers.authorization ?? '').trim());
    if (!match || match[1] !== options.apiSecret) return fail(reply, 401, 'UNAUTHORIZED', '인증 정보가 올바르지 않습니다.');
  });

  /** The store a call acts for, or a reply already sent (403) when the secret may not act for it. */
  const storeOf = (requested: unknown, reply: FastifyReply): string | null => {
    if (requested === undefined || requested === null || requested === '') return options.storeId;
    if (typeof requested === 'string' && stores.has(requested)) return requested;
    void fail(reply, 403, 'FORBIDDEN', '요청이 거절되었습니다.');
    return null;
  };

  server.get<{ Params: { paymentId: string }; Querystring: { storeId?: string } }>(
    '/payments/:paymentId',
    { config: { v2Api: true } },
    async (request, reply) => {
      if (await answerWithFault(state.takeFault('getPayment'), request, reply)) return reply;
      const storeId = storeOf(request.query.storeId, reply);
      if (!storeId) return reply;
      state.reads.push({ at: state.nowMs(), paymentId: request.params.paymentId, storeId });
      const payment = state.get(storeId, request.params.paymentId);
      if (!payment) return fail(reply, 404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
      return render(payment);
    },
  );

  server.get<{ Querystring: { requestBody?: string } }>('/payments', { config: { v2Api: true } }, async (request, reply) => {
    if (await answerWithFault(state.takeFault('listPayments'), request, reply)) return reply;
    let input: Body = {};
    try {
      // The OpenAPI's "query or body": a JSON document in the `requestBody` query parameter, or a JSON body.
      if (request.query.requestBody !== undefined) input = JSON.parse(request.query.requestBody) as Body;
      else if (request.body && request.body !== INVALID_JSON) input = request.body as Body;
      else if (request.body === INVALID_JSON) throw new Error('invalid');
    } catch {
      return fail(reply, 400, 'INVALID_REQUEST', 'requestBody 가 올바른 JSON 이 아닙니다.');
    }
    const filter = (input.filter ?? {}) as Body;
    const page = (input.page ?? {}) as Body;
    const number = page.number === undefined ? 0 : Number(page.number);
    const size = page.size === undefined ? DEFAULT_PAGE_SIZE : Number(page.size);
    if (!Number.isInteger(number) || number < 0 || !Number.isInteger(size) || size < 1 || size > 1000) {
      return fail(reply, 400, 'INVALID_REQUEST', 'page.number 는 0 이상, page.size 는 1~1000 이어야 합니다.');
    }
    let storeIds = [...stores];
    if (filter.storeId !== undefined) {
      const storeId = storeOf(filter.storeId, reply);
      if (!storeId) return reply;
      storeIds = [storeId];
    }
    const until = filter.until === undefined ? state.nowMs() : Date.parse(String(filter.until));
    const from = filter.from === undefined ? until - 90 * 86_400_000 : Date.parse(String(filter.from));
    if (Number.isNaN(from) || Number.isNaN(until)) return fail(reply, 400, 'INVALID_REQUEST', 'from / until 은 RFC 3339 시각이어야 합니다.');
    const timestampType = filter.timestampType ?? 'CREATED_AT';
    if (timestampType !== 'CREATED_AT' && timestampType !== 'STATUS_CHANGED_AT') return fail(reply, 400, 'INVALID_REQUEST', 'timestampType 이 올바르지 않습니다.');
    // The filter enum says PENDING where the payment itself says PAY_PENDING.
    const statuses = Array.isArray(filter.status) ? new Set((filter.status as string[]).map((s) => (s === 'PENDING' ? 'PAY_PENDING' : s))) : null;
    const at = (p: StoredV2Payment) => (timestampType === 'CREATED_AT' ? p.requestedAt : p.statusChangedAt);
    const sortAt = (p: StoredV2Payment) => (filter.sortBy === 'STATUS_CHANGED_AT' ? p.statusChangedAt : p.requestedAt);
    const descending = filter.sortOrder !== 'ASC';
    const matching = [...state.payments.values()]
      .filter((p) => storeIds.includes(p.storeId) && at(p) >= from && at(p) <= until && (!statuses || statuses.has(p.status)))
      .filter((p) => filter.isTest === undefined || (p.channelType === 'TEST') === Boolean(filter.isTest))
      .sort((a, b) => {
        const diff = sortAt(a) - sortAt(b) || a.seq - b.seq;
        return descending ? -diff : diff;
      });
    return { items: matching.slice(number * size, (number + 1) * size).map(render), page: { number, size, totalCount: matching.length } };
  });

  server.post<{ Params: { paymentId: string }; Querystring: { storeId?: string } }>(
    '/payments/:paymentId/virtual-account/close',
    { config: { v2Api: true } },
    async (request, reply) => {
      if (await answerWithFault(state.takeFault('closeVirtualAccount'), request, reply)) return reply;
      const storeId = storeOf(request.query.storeId, reply);
      if (!storeId) return reply;
      const payment = state.get(storeId, request.params.paymentId);
      if (!payment) return fail(reply, 404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
      if (payment.status !== 'VIRTUAL_ACCOUNT_ISSUED') return fail(reply, 409, 'PAYMENT_NOT_WAITING_FOR_DEPOSIT', '결제 건이 입금 대기 상태가 아닙니다.');
      // UNCONFIRMED: the status of a closed, never-paid virtual account. CANCELLED with nothing cancelled.
      state.setStatus(payment, 'CANCELLED');
      payment.cancelledAt = state.nowMs();
      return { closedAt: new Date(payment.cancelledAt).toISOString() };
    },
  );
}
