import { GatewayError, type GatewayPayment, type PaymentGateway, type PaymentListPage, type PaymentListQuery } from '../../src/gateway/payment-gateway';
import { SweepCursor } from '../../src/payment/reconciliation/sweep-cursor.entity';
import { useTestApp } from '../support/test-app';

/**
 * The sweep pages a crowd (a window of two seconds or less, which it cannot split) to its end whatever
 * the run's page budget. A listing that never ends (a gateway bug, a proxy answering the same page) must
 * not keep a run going forever: past a backstop the run stops with an error and the cursor stays before
 * the window, so nothing after it is skipped. The clients also end walks on empty pages
 * (test/unit/portone-listing-paging.test.ts); this gateway defeats that on purpose.
 */
class EndlessListing implements PaymentGateway {
  calls: PaymentListQuery[] = [];
  async getPayment(id: string): Promise<GatewayPayment> {
    throw new GatewayError('NOT_FOUND', `no payment ${id}`);
  }
  async findPaymentsByMerchantUid(): Promise<GatewayPayment[]> {
    return [];
  }
  async cancelPayment(): Promise<GatewayPayment> {
    throw new Error('the sweep of an empty database cancels nothing');
  }
  async listPayments(query: PaymentListQuery): Promise<PaymentListPage> {
    this.calls.push(query);
    return { payments: [], nextPage: query.page + 1 };
  }
  async revokeVirtualAccount(id: string): Promise<GatewayPayment> {
    throw new GatewayError('NOT_FOUND', `no payment ${id}`);
  }
}

const gateway = new EndlessListing();
const t = useTestApp({ gateway, startWorker: false });

test('a listing that never ends stops the run with an error, the cursor before it, after a bounded number of pages', async () => {
  const report = await t.app.services.reconciliation.run();
  const listings = new Set(gateway.calls.map((c) => c.status));
  expect(report.errors).toBe(listings.size);
  // Splits down to two seconds, then the backstop of 10,000 pages in the crowd, for each listing.
  expect(gateway.calls.length).toBeLessThan(listings.size * 10_100);
  expect(Math.max(...gateway.calls.map((c) => c.page))).toBe(10_000);
  // No listing's cursor moved past the start of the window that did not end (there may be no cursor yet).
  const cursors = await t.orm.em.fork().find(SweepCursor, {});
  const stuck = gateway.calls.filter((c) => c.page === 10_000);
  expect(stuck.map((c) => c.status).sort()).toEqual([...listings].sort());
  const past = cursors.filter((cursor) => cursor.sweptUntil.getTime() > stuck.find((c) => c.status === cursor.listing)!.from.getTime());
  expect(past).toEqual([]);
}, 120_000);
