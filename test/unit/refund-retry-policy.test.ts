import { loadConfig } from '../../src/config';
import { refundBackoffMs } from '../../src/payment/refunds/refund-queue';

/**
 * Issue 10, story 10: a refund's retry budget is elapsed time (72 hours unless configured), and the wait
 * between attempts is capped, so a refund keeps being tried at least every REFUND_BACKOFF_MAX_MS however
 * many attempts it has made. What an attempt does with the budget: test/service/refund-retry-budget.
 */
const { refunds } = loadConfig({});

test('the retry budget defaults to 72 hours of elapsed time, and no attempt count limits it', () => {
  expect(refunds.retryWindowMs).toBe(72 * 3_600_000);
  expect(loadConfig({ REFUND_RETRY_WINDOW_MS: '3600000' }).refunds.retryWindowMs).toBe(3_600_000);
  expect(() => loadConfig({ REFUND_MAX_ATTEMPTS: '8' })).toThrow(/REFUND_MAX_ATTEMPTS is no longer used/);
});

test('the backoff grows from the base and is capped: attempt 50 (and 5,000) waits at most the cap', () => {
  const { backoffBaseMs: base, backoffMaxMs: cap } = refunds;
  const lowest = () => 0;
  const highest = () => 0.999_999;
  expect(refundBackoffMs(1, base, cap, highest)).toBeLessThanOrEqual(base);
  expect(refundBackoffMs(2, base, cap, lowest)).toBeGreaterThanOrEqual(base);
  for (const attempt of [50, 1_100, 5_000]) {
    // Equal jitter: between half the cap and the cap, never more, never a non-number.
    expect(refundBackoffMs(attempt, base, cap, highest)).toBeLessThanOrEqual(cap);
    expect(refundBackoffMs(attempt, base, cap, lowest)).toBeGreaterThanOrEqual(cap / 2);
  }
  // With the defaults a 72-hour outage is tried hundreds of times, not 8.
  let elapsed = 0;
  let attempts = 0;
  while (elapsed < refunds.retryWindowMs) elapsed += refundBackoffMs(++attempts, base, cap, highest);
  expect(attempts).toBeGreaterThan(400);
});
