import type { FastifyReply, FastifyRequest } from 'fastify';
import { fail, sleep } from './portone-v2-simulator-context';

export type V2SimulatorEndpoint = 'getPayment' | 'listPayments' | 'cancel' | 'closeVirtualAccount';
/**
 * latency: answer late; http500/http503: an error page before any processing; reset: drop the connection
 * before processing; applyThenLose: apply the cancel, then drop the connection instead of answering;
 * pgError: 502 PG_PROVIDER (nothing applied); error: any `{type}` with any status (nothing applied).
 */
export type V2FaultKind = 'latency' | 'http500' | 'http503' | 'reset' | 'applyThenLose' | 'pgError' | 'error';

export interface V2Fault {
  endpoint: V2SimulatorEndpoint | 'all';
  kind: V2FaultKind;
  remaining: number;
  latencyMs?: number;
  httpStatus?: number;
  type?: string;
  message?: string;
}

export const V2_FAULT_KINDS: V2FaultKind[] = ['latency', 'http500', 'http503', 'reset', 'applyThenLose', 'pgError', 'error'];
export const V2_FAULT_ENDPOINTS = ['getPayment', 'listPayments', 'cancel', 'closeVirtualAccount', 'all'];

/** Applies a pre-processing fault; true when the fault already answered (or dropped) the request. */
export async function answerWithFault(fault: V2Fault | null, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  if (!fault) return false;
  if (fault.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
  if (fault.kind === 'http500') {
    void reply.code(500).type('text/html').send('<html><body>500 Internal Server Error</body></html>');
    return true;
  }
  if (fault.kind === 'http503') {
    void reply.code(503).type('text/html').send('<html><body>503 Service Temporarily Unavailable</body></html>');
    return true;
  }
  if (fault.kind === 'reset') {
    request.raw.socket.destroy();
    void reply.hijack();
    return true;
  }
  if (fault.kind === 'pgError') {
    void fail(reply, 502, 'PG_PROVIDER', 'PG사에서 오류를 전달했습니다.', { pgCode: 'PG9999', pgMessage: fault.message ?? '취소 처리 중 PG사 오류' });
    return true;
  }
  if (fault.kind === 'error') {
    void fail(reply, fault.httpStatus ?? 400, fault.type ?? 'INVALID_REQUEST', fault.message ?? 'injected error');
    return true;
  }
  return false;
}
