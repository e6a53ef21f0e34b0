import fc from 'fast-check';
import { mapPortOneV1Failure, type PortOneV1Failure, type PortOneV1Operation } from '../../src/gateway/portone/v1/portone-v1.errors';
import { mapPortOneV2Failure } from '../../src/gateway/portone/v2/portone-v2.errors';

/**
 * The maps from PortOne failures to what the caller may do next (V1's generated over every failure; V2's
 * unreadable 2xx at the end). For a call that changes a payment (cancel, revoke) the dangerous answers
 * are the ones that say "nothing happened" (REJECTED: give up; UNAVAILABLE: send again without reading)
 * when PortOne may in fact have applied it: the refund would be sent twice or left NEEDS_ATTENTION with
 * the money already back.
 */
const operations: PortOneV1Operation[] = ['getToken', 'read', 'list', 'cancel', 'revokeVbank'];
const changes = (operation: PortOneV1Operation) => operation === 'cancel' || operation === 'revokeVbank';

const failures: fc.Arbitrary<PortOneV1Failure> = fc.oneof(
  fc.record({
    kind: fc.constant('http' as const),
    httpStatus: fc.oneof(fc.integer({ min: 200, max: 599 }), fc.constantFrom(200, 400, 401, 404, 500, 502, 503, 504)),
    code: fc.option(fc.integer({ min: -1, max: 5 }), { nil: null }),
    message: fc.option(fc.string(), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('envelope' as const),
    httpStatus: fc.constant(200),
    code: fc.integer({ min: -1, max: 5 }),
    message: fc.option(fc.constantFrom('이미 전액 취소된 거래입니다.', '취소할 결제건이 존재하지 않습니다.', '결제취소에 실패하였습니다.(PG사 오류)', 'x'), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('network' as const),
    code: fc.option(fc.constantFrom('ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'), { nil: undefined }),
    message: fc.string(),
    requestSent: fc.boolean(),
  }),
);

/** PortOne may have processed the request: anything reached its API and was not refused before processing. */
function mayHaveBeenApplied(failure: PortOneV1Failure): boolean {
  if (failure.kind === 'network') return failure.requestSent;
  if (failure.kind === 'envelope') return failure.code === 0;
  if (failure.httpStatus >= 200 && failure.httpStatus < 300) return true;
  return failure.httpStatus >= 500 && failure.httpStatus !== 503;
}

test('a change PortOne may have applied is OUTCOME_UNKNOWN (read back before anything else); one it cannot have applied never is', () => {
  fc.assert(
    fc.property(fc.constantFrom(...operations.filter(changes)), failures, (operation, failure) => {
      const kind = mapPortOneV1Failure(operation, failure).kind;
      if (failure.kind !== 'network' && failure.httpStatus === 401) return kind === 'MISCONFIGURED';
      if (mayHaveBeenApplied(failure)) return kind === 'OUTCOME_UNKNOWN';
      return kind !== 'OUTCOME_UNKNOWN';
    }),
    { numRuns: 2000 },
  );
});

test('a read is never OUTCOME_UNKNOWN: repeating it is always safe; a 2xx without a readable answer is UNAVAILABLE, not REJECTED', () => {
  fc.assert(
    fc.property(fc.constantFrom(...operations.filter((o) => !changes(o))), failures, (operation, failure) => {
      const kind = mapPortOneV1Failure(operation, failure).kind;
      if (kind === 'OUTCOME_UNKNOWN') return false;
      if (failure.kind !== 'network' && mayHaveBeenApplied(failure) && failure.httpStatus < 300) return kind === 'UNAVAILABLE';
      return true;
    }),
    { numRuns: 2000 },
  );
});

test('the cancel outcomes PortOne words as code 1 keep their meaning', () => {
  const envelope = (message: string): PortOneV1Failure => ({ kind: 'envelope', httpStatus: 200, code: 1, message });
  expect(mapPortOneV1Failure('cancel', envelope('이미 전액 취소된 거래입니다.')).kind).toBe('ALREADY_CANCELLED');
  expect(mapPortOneV1Failure('cancel', envelope('취소할 결제건이 존재하지 않습니다.')).kind).toBe('NOT_FOUND');
  expect(mapPortOneV1Failure('cancel', envelope('결제취소에 실패하였습니다.(PG사 오류)')).kind).toBe('REJECTED');
  expect(mapPortOneV1Failure('cancel', { kind: 'http', httpStatus: 200, code: null, message: null }).kind).toBe('OUTCOME_UNKNOWN');
  expect(mapPortOneV1Failure('read', { kind: 'http', httpStatus: 200, code: null, message: null }).kind).toBe('UNAVAILABLE');
});

test('V2 as well: a 2xx without a readable body is OUTCOME_UNKNOWN for a cancel and UNAVAILABLE for a read, whatever the status', () => {
  fc.assert(
    fc.property(fc.integer({ min: 200, max: 299 }), (httpStatus) => {
      const cancel = mapPortOneV2Failure('cancel', { kind: 'http', httpStatus, body: null });
      const read = mapPortOneV2Failure('read', { kind: 'http', httpStatus, body: null });
      return cancel.kind === 'OUTCOME_UNKNOWN' && read.kind === 'UNAVAILABLE' && cancel.details?.httpStatus === httpStatus;
    }),
  );
});
