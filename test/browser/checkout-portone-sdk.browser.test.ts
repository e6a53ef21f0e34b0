import type { Browser, Page } from 'playwright-core';
import { Reservation, ReservationStatus } from '../../src/booking/reservation.entity';
import { browserTestsAvailable, launchChromium } from '../support/browser';
import { createEventViaApi } from '../support/fixtures';
import { startTestApp, type TestApp } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * The checkout against "real" PortOne: the page loads PortOne's SDK from PortOne's CDN. The machine has no
 * internet, so the CDN script is answered by a stand-in that records the request and lets the test answer
 * it the way PortOne's SDK does, after making the payment in the simulator the app reads payments from.
 * What this checks is our side: the SDK is loaded (through the CSP), called with the server's order id and
 * amount, and its answer is confirmed with the server.
 */
const describeWithBrowser = browserTestsAvailable() ? describe : describe.skip;

const FAKE_V1_SDK = `window.IMP = {
  init: function (code) { window.__impCode = code; },
  request_pay: function (request, callback) { window.__request = request; window.__answer = callback; }
};`;
const FAKE_V2_SDK = `window.PortOne = {
  requestPayment: function (request) { window.__request = request; return new Promise(function (resolve) { window.__answer = resolve; }); }
};`;

async function checkoutUntilPaymentRequest(browser: Browser, t: TestApp, sdkUrl: string, sdk: string): Promise<{ page: Page; request: Record<string, unknown>; problems: string[] }> {
  await createEventViaApi(t);
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (['warning', 'error'].includes(message.type())) problems.push(message.text());
  });
  await page.route(sdkUrl, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: sdk }));
  await page.goto(t.url.replace(/\/graphql$/, '/demo'));
  await page.fill('#buyer-token', await t.tokenFor('buyer-1'));
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.getByRole('button', { name: /Test concert/ }).click();
  await page.getByRole('button', { name: /^A1/ }).click();
  await page.getByRole('button', { name: 'Hold seat' }).click();
  await page.getByRole('button', { name: /with PortOne/ }).click();
  const request = await waitFor(() => page.evaluate(() => (globalThis as unknown as { __request?: Record<string, unknown> }).__request ?? null));
  return { page, request, problems };
}

async function holdOf(t: TestApp): Promise<Reservation> {
  const [reservation] = await t.orm.em.fork().find(Reservation, {});
  return reservation;
}

describeWithBrowser('the checkout with PortOne browser SDKs', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('V1: IMP.init with the merchant code, request_pay with the order, its callback confirmed', async () => {
    const t = await startTestApp({
      startWorker: false,
      env: { PORTONE_API_URL: 'https://api.iamport.kr', PORTONE_IMP_KEY: 'key', PORTONE_IMP_SECRET: 'secret', PORTONE_IMP_CODE: 'imp12345678', PORTONE_CHANNEL_KEY: 'channel-v1' },
    });
    try {
      await t.reset();
      const { page, request, problems } = await checkoutUntilPaymentRequest(browser, t, 'https://cdn.iamport.kr/v1/iamport.js', FAKE_V1_SDK);
      const hold = await holdOf(t);
      expect(await page.evaluate(() => (globalThis as unknown as { __impCode: string }).__impCode)).toBe('imp12345678');
      expect(request).toMatchObject({ channelKey: 'channel-v1', pay_method: 'card', merchant_uid: hold.merchantUid, amount: 50000, name: 'Test concert · A1' });
      expect(String(request.m_redirect_url)).toContain(`reservation=${hold.id}`);

      const impUid = await t.simulator.pay({ merchantUid: hold.merchantUid, amount: 50000 });
      await page.evaluate(
        ({ impUid, merchantUid }) => (globalThis as unknown as { __answer: (r: unknown) => void }).__answer({ success: true, imp_uid: impUid, merchant_uid: merchantUid }),
        { impUid, merchantUid: hold.merchantUid },
      );
      await page.locator('[data-outcome=confirmed]').waitFor();
      expect((await holdOf(t)).status).toBe(ReservationStatus.CONFIRMED);
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await t.close();
    }
  });

  test('V2: PortOne.requestPayment with the store, channel and paymentId = merchantUid, its answer confirmed', async () => {
    const t = await startTestApp({ startWorker: false, portoneVersion: 'v2', env: { PORTONE_API_URL: 'https://api.portone.io', PORTONE_CHANNEL_KEY: 'channel-v2' } });
    try {
      await t.reset();
      const { page, request, problems } = await checkoutUntilPaymentRequest(browser, t, 'https://cdn.portone.io/v2/browser-sdk.js', FAKE_V2_SDK);
      const hold = await holdOf(t);
      expect(request).toMatchObject({
        storeId: t.config.portone.storeId,
        channelKey: 'channel-v2',
        paymentId: hold.merchantUid,
        totalAmount: 50000,
        currency: 'CURRENCY_KRW',
        payMethod: 'CARD',
      });

      await t.v2!.pay({ merchantUid: hold.merchantUid, amount: 50000, webhook: false });
      await page.evaluate(
        (paymentId) => (globalThis as unknown as { __answer: (r: unknown) => void }).__answer({ transactionType: 'PAYMENT', txId: 'tx-1', paymentId }),
        hold.merchantUid,
      );
      await page.locator('[data-outcome=confirmed]').waitFor();
      expect((await holdOf(t)).status).toBe(ReservationStatus.CONFIRMED);
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await t.close();
    }
  });
});
