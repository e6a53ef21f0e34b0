import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PaymentGateway } from '../../src/gateway/payment-gateway';
import { PortOneV1Client } from '../../src/gateway/portone/v1/portone-v1.client';
import { PortOneV2Client } from '../../src/gateway/portone/v2/portone-v2.client';

/*
 * The sweep pages a window of two seconds or less until nextPage is null, with no call budget
 * (reconciliation.service.ts). So a listing walk must end on what PortOne actually returned, whatever its
 * paging fields say: a stub that answers every page alike (a `next` that always points on, a page number
 * that never moves) must not keep the walk going forever.
 */
let server: http.Server;
let answer: (url: URL) => unknown;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/users/getToken') {
      const now = Math.floor(Date.now() / 1000);
      res.end(JSON.stringify({ code: 0, message: null, response: { access_token: 'token', now, expired_at: now + 1800 } }));
      return;
    }
    res.end(JSON.stringify(answer(url)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Pages from 1 as the sweep does; the number of pages read, or Infinity past `cap`. */
async function pagesWalked(gateway: PaymentGateway, cap: number): Promise<number> {
  const from = new Date(Date.now() - 2000);
  const to = new Date();
  let page: number | null = 1;
  let read = 0;
  while (page !== null) {
    if (++read > cap) return Infinity;
    page = (await gateway.listPayments({ status: 'paid', from, to, page, limit: 1 })).nextPage;
  }
  return read;
}

const v1Payment = { imp_uid: 'imp_1', merchant_uid: 'order-1', status: 'paid', amount: 1000, cancel_amount: 0, currency: 'KRW', pay_method: 'card', paid_at: 1, cancel_history: [] };
const v2Payment = {
  id: 'order-1',
  status: 'PAID',
  storeId: 'store-1',
  amount: { total: 1000, cancelled: 0 },
  currency: 'KRW',
  method: { type: 'PaymentMethodCard' },
  paidAt: new Date().toISOString(),
  cancellations: [],
};

test('V1: an empty page ends the walk even if `next` says there is another', async () => {
  answer = (url) => {
    const page = Number(url.searchParams.get('page'));
    return { code: 0, message: null, response: { total: 1, previous: page - 1, next: page + 1, list: page === 1 ? [v1Payment] : [] } };
  };
  const client = new PortOneV1Client({ baseUrl: base, impKey: 'k', impSecret: 's', connectTimeoutMs: 1000, responseTimeoutMs: 2000 });
  expect(await pagesWalked(client, 20)).toBeLessThanOrEqual(2);
});

test('V2: a page number PortOne does not move on does not keep the walk going', async () => {
  // Every answer claims to be page 0 of 3 items, one per page: the client must count the pages it asked for.
  answer = () => ({ items: [v2Payment], page: { number: 0, size: 1, totalCount: 3 } });
  const client = new PortOneV2Client({ baseUrl: base, apiSecret: 'secret', storeId: 'store-1', connectTimeoutMs: 1000, responseTimeoutMs: 2000 });
  expect(await pagesWalked(client, 20)).toBeLessThanOrEqual(3);
});
