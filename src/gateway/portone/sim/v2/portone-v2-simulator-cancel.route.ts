import type { FastifyInstance } from 'fastify';
import { cancelEvent, fail, INVALID_JSON, sleep, type Body, type V2SimulatorContext } from './portone-v2-simulator-context';
import { answerWithFault, type V2FaultKind } from './portone-v2-simulator-faults';
import { parseSfString, V2IdempotencyStore } from './portone-v2-simulator-idempotency';
import { toV2Cancellation } from './portone-v2-simulator-payment-shapes';

export interface V2CancelRequestRecord {
  at: number;
  paymentId: string;
  storeId: string;
  idempotencyKey: string | null;
  body: Record<string, unknown>;
  /** Answered from the Idempotency-Key record without processing. */
  replayed: boolean;
  applied: boolean;
  responseLost: boolean;
  httpStatus: number | null;
  outcome: string;
}

type CancelOutcome = { httpStatus: number; body: unknown; applied: boolean };

/** `POST /payments/{id}/cancel`: Idempotency-Key replay, injected faults, then the cancel rules; every call is recorded. */
export function registerV2CancelRoute(server: FastifyInstance, context: V2SimulatorContext): void {
  const { state, options } = context;
  const retentionMs = options.idempotencyRetentionMs ?? 3 * 3_600_000;

  server.post<{ Params: { paymentId: string } }>('/payments/:paymentId/cancel', { config: { v2Api: true } }, async (request, reply) => {
    const body = (request.body && request.body !== INVALID_JSON ? request.body : {}) as Body;
    const record: V2CancelRequestRecord = {
      at: state.nowMs(),
      paymentId: request.params.paymentId,
      storeId: typeof body.storeId === 'string' ? body.storeId : options.storeId,
      idempotencyKey: null,
      body,
      replayed: false,
      applied: false,
      responseLost: false,
      httpStatus: null,
      outcome: '',
    };
    state.cancelRequests.push(record);

    const rawKey = request.headers['idempotency-key'];
    let key: string | null = null;
    if (rawKey !== undefined) {
      key = parseSfString(Array.isArray(rawKey) ? rawKey.join(',') : rawKey);
      if (key === null || key.length < 16 || key.length > 256) {
        record.httpStatus = 400;
        record.outcome = 'rejected: malformed Idempotency-Key';
        return fail(reply, 400, 'INVALID_REQUEST', 'Idempotency-Key 는 16~256자의 ASCII 문자열(RFC 8941 sf-string)이어야 합니다.');
      }
      record.idempotencyKey = key;
      const scope = V2IdempotencyStore.scopeOf(options.apiSecret, key);
      const fingerprint = JSON.stringify([request.params.paymentId, body]);
      const kept = state.idempotency.find(scope, state.nowMs(), retentionMs);
      if (kept) {
        record.replayed = true;
        if (kept.fingerprint !== fingerprint) {
          record.httpStatus = 400;
          record.outcome = 'rejected: Idempotency-Key reused for another request';
          // UNCONFIRMED: PortOne only says never to do this.
          return fail(reply, 400, 'INVALID_REQUEST', '같은 Idempotency-Key 로 다른 요청을 보낼 수 없습니다.');
        }
        if (kept.state === 'in-flight') {
          record.httpStatus = 409;
          record.outcome = 'rejected: same Idempotency-Key in flight';
          return fail(reply, 409, 'IDEMPOTENCY_OUTSTANDING_REQUEST', '같은 Idempotency-Key 의 요청이 처리 중입니다.');
        }
        record.httpStatus = kept.httpStatus;
        record.outcome = 'replayed';
        return reply.code(kept.httpStatus).send(kept.body);
      }
      state.idempotency.begin(scope, fingerprint, state.nowMs());
    }
    const scope = key === null ? null : V2IdempotencyStore.scopeOf(options.apiSecret, key);

    const fault = state.takeFault('cancel');
    if (fault?.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
    if (fault && (['http500', 'http503', 'reset'] as V2FaultKind[]).includes(fault.kind)) {
      // An edge failure before any processing: nothing applied, and the key is free again.
      if (scope) state.idempotency.forget(scope);
      record.outcome = `fault: ${fault.kind}`;
      record.httpStatus = fault.kind === 'reset' ? null : fault.kind === 'http500' ? 500 : 503;
      await answerWithFault(fault, request, reply);
      return reply;
    }
    let outcome: CancelOutcome;
    if (fault?.kind === 'pgError') {
      outcome = { httpStatus: 502, body: { type: 'PG_PROVIDER', message: 'PG사에서 오류를 전달했습니다.', pgCode: 'PG9999', pgMessage: fault.message ?? '취소 처리 중 PG사 오류' }, applied: false };
    } else if (fault?.kind === 'error') {
      outcome = { httpStatus: fault.httpStatus ?? 400, body: { type: fault.type ?? 'INVALID_REQUEST', message: fault.message ?? 'injected error' }, applied: false };
    } else {
      outcome = processCancel(context, request.params.paymentId, body);
    }
    record.httpStatus = outcome.httpStatus;
    record.applied = outcome.applied;
    record.outcome = outcome.applied ? 'applied' : `rejected: ${(outcome.body as { type?: string }).type}`;
    if (scope) state.idempotency.complete(scope, outcome.httpStatus, outcome.body, state.nowMs(), options.idempotencyReplay);
    if (fault?.kind === 'applyThenLose' && outcome.applied) {
      record.responseLost = true;
      request.raw.socket.destroy();
      return reply.hijack();
    }
    return reply.code(outcome.httpStatus).send(outcome.body);
  });
}

/** The cancel rules of contract B2; order of checks where several apply is UNCONFIRMED. */
function processCancel({ state, options, stores, webhookSender }: V2SimulatorContext, paymentId: string, body: Body): CancelOutcome {
  const reject = (httpStatus: number, type: string, message: string) => ({ httpStatus, body: { type, message }, applied: false });
  const storeId = body.storeId === undefined || body.storeId === '' ? options.storeId : body.storeId;
  if (typeof storeId !== 'string' || !stores.has(storeId)) return reject(403, 'FORBIDDEN', '요청이 거절되었습니다.');
  if (typeof body.reason !== 'string' || body.reason.trim() === '') return reject(400, 'INVALID_REQUEST', 'reason 은 필수입니다.');
  for (const field of ['amount', 'currentCancellableAmount'] as const) {
    if (body[field] !== undefined && !(Number.isInteger(body[field]) && (body[field] as number) >= 0)) return reject(400, 'INVALID_REQUEST', `${field} 는 0 이상의 정수여야 합니다.`);
  }
  const payment = state.get(storeId, paymentId);
  if (!payment) return reject(404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
  if (payment.status === 'CANCELLED') return reject(409, 'PAYMENT_ALREADY_CANCELLED', '이미 취소된 결제 건입니다.');
  if (payment.status !== 'PAID' && payment.status !== 'PARTIAL_CANCELLED') return reject(409, 'PAYMENT_NOT_PAID', '결제가 완료되지 않았습니다.');
  const cancellable = state.cancellable(payment);
  if (body.currentCancellableAmount !== undefined && body.currentCancellableAmount !== cancellable) {
    return reject(409, 'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN', '취소 가능 잔액 검증에 실패하였습니다.');
  }
  // Omitted amount: everything that is left.
  const amount = body.amount === undefined || body.amount === 0 ? cancellable : (body.amount as number);
  if (amount > cancellable) return reject(409, 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT', '취소 금액이 취소 가능 금액을 초과합니다.');
  const account = body.refundAccount as Body | undefined;
  if (payment.method === 'virtualAccount' && !(account && account.bank && account.number && account.holderName)) {
    // UNCONFIRMED at PortOne: the exact error for a virtual-account refund without an account.
    return reject(400, 'INVALID_REQUEST', '가상계좌 결제 취소에는 환불 계좌(refundAccount)가 필요합니다.');
  }
  const requested = state.cancelMode === 'requested';
  const cancellation = state.applyCancel(payment, amount, body.reason as string, 'API', account ?? null, requested ? 'REQUESTED' : 'SUCCEEDED');
  if (body.skipWebhook !== true) webhookSender.notify(payment, requested ? 'Transaction.CancelPending' : cancelEvent(payment), cancellation.id);
  return { httpStatus: 200, body: { cancellation: toV2Cancellation(cancellation) }, applied: true };
}
