import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { checkoutPage, checkoutScript } from '../../src/http/demo-checkout';
import { Reservation, ReservationStatus } from '../../src/booking/reservation.entity';
import { browserTestsAvailable, launchChromium } from '../support/browser';
import { createEventViaApi } from '../support/fixtures';
import { startTestApp, type TestApp } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * The reference checkout at /demo in a real Chromium against the real app, the PortOne simulator over
 * HTTP (its payment window is a popup the test clicks in) and PostgreSQL. Each end state is screenshotted.
 */
const SCREENSHOTS = join(process.cwd(), 'screenshots');
const describeWithBrowser = browserTestsAvailable() ? describe : describe.skip;

/** What a page must never do: throw, or have Apollo (or React) warn, e.g. "data might be lost". */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (['warning', 'error'].includes(message.type()) || /might be lost|heuristic|go\.apollo\.dev/i.test(message.text())) {
      problems.push(`console.${message.type()}: ${message.text()}`);
    }
  });
  return problems;
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

/** Pastes the buyer token, picks the event and seat A1, holds it: the hold panel shows a countdown. */
async function holdFirstSeat(page: Page, token: string): Promise<void> {
  await page.fill('#buyer-token', token);
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.getByRole('button', { name: /Test concert/ }).click();
  await page.getByRole('button', { name: /^A1/ }).click();
  await page.getByRole('button', { name: 'Hold seat' }).click();
  await expect(page.locator('#countdown').innerText()).resolves.toMatch(/^\d+:\d\d$/);
}

/** Opens the PortOne window from the checkout and clicks one of its buttons. */
async function payInWindow(page: Page, button: 'pay' | 'fail' | 'pay-and-close', options: { tamper?: boolean; screenshot?: string } = {}): Promise<void> {
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: /Pay ₩50,000 with PortOne/ }).click()]);
  await popup.waitForLoadState();
  await expect(popup.locator('#amount').innerText()).resolves.toBe('50,000원');
  if (options.tamper) await popup.check('#tamper');
  if (options.screenshot) await screenshot(popup, options.screenshot);
  await Promise.all([popup.waitForEvent('close'), popup.click(`#${button}`)]);
}

async function reservationStatus(t: TestApp): Promise<ReservationStatus | undefined> {
  const [reservation] = await t.orm.em.fork().find(Reservation, {});
  return reservation?.status;
}

describeWithBrowser('reference checkout at /demo', () => {
  let browser: Browser;
  let t: TestApp;
  beforeAll(async () => {
    browser = await launchChromium();
    t = await startTestApp({ env: { REFUND_BACKOFF_BASE_MS: '300', REFUND_BACKOFF_MAX_MS: '600' } });
  });
  afterAll(async () => {
    await t?.close();
    await browser?.close();
  });
  beforeEach(async () => {
    await t.reset();
    await createEventViaApi(t);
  });

  async function openCheckout(): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    const problems = watchProblems(page);
    await page.goto(t.url.replace(/\/graphql$/, '/demo'));
    await holdFirstSeat(page, await t.tokenFor('buyer-1'));
    return { page, problems };
  }

  test('an honest payment ends in a confirmed booking', async () => {
    const { page, problems } = await openCheckout();
    await screenshot(page, 'checkout-hold.png');
    await payInWindow(page, 'pay');
    const outcome = page.locator('[data-outcome=confirmed]');
    await outcome.waitFor();
    await expect(outcome.innerText()).resolves.toMatch(/Booking confirmed[\s\S]*CONFIRMED[\s\S]*A1[\s\S]*₩50,000[\s\S]*imp_/);
    expect(await reservationStatus(t)).toBe(ReservationStatus.CONFIRMED);
    await screenshot(page, 'checkout-confirmed.png');
    expect(problems).toEqual([]);
    await page.close();
  });

  test('a tampered amount ends in PaymentRefunded, the refund followed until SUCCEEDED, the message in Korean or English', async () => {
    // The first cancel fails, so the refund is PENDING at first and the page has to poll to see it finish.
    await t.simulator.fault({ endpoint: 'cancel', kind: 'http503', times: 1 });
    const { page, problems } = await openCheckout();
    await payInWindow(page, 'pay', { tamper: true, screenshot: 'checkout-portone-window.png' });
    const outcome = page.locator('[data-outcome=refunded]');
    await outcome.waitFor();
    await expect(page.locator('#refund-status').innerText()).resolves.toBe('PENDING');
    await expect(outcome.innerText()).resolves.toMatch(/AMOUNT_MISMATCH[\s\S]*₩51,000/);
    await expect(page.locator('#refund-message').innerText()).resolves.toMatch(/[가-힣]/);
    await page.locator('#refund-status', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'checkout-refunded.png');

    await page.getByRole('button', { name: 'English' }).click();
    await waitFor(async () => !/[가-힣]/.test(await page.locator('#refund-message').innerText()));
    await expect(page.locator('#refund-message').innerText()).resolves.toMatch(/[a-z]{3,}/);
    await expect(page.locator('#refund-status').innerText()).resolves.toBe('SUCCEEDED');

    const [payment] = await t.simulator.allPayments();
    expect(payment).toMatchObject({ amount: 51000, status: 'cancelled', cancel_amount: 51000 });
    expect((await t.simulator.cancelRequests(payment.imp_uid)).filter((c) => c.applied)).toHaveLength(1);
    expect(await reservationStatus(t)).not.toBe(ReservationStatus.CONFIRMED);
    await screenshot(page, 'checkout-refunded-en.png');
    expect(problems).toEqual([]);
    await page.close();
  });

  test('closing the PortOne window after paying still ends confirmed: the webhook settles it and the page follows', async () => {
    const { page, problems } = await openCheckout();
    await payInWindow(page, 'pay-and-close');
    const outcome = page.locator('[data-outcome=confirmed]');
    await outcome.waitFor({ timeout: 20_000 });
    await expect(outcome.innerText()).resolves.toMatch(/Booking confirmed[\s\S]*CONFIRMED/);
    expect(await reservationStatus(t)).toBe(ReservationStatus.CONFIRMED);
    const [payment] = await t.simulator.allPayments();
    expect(await t.simulator.webhookDeliveries(payment.imp_uid)).toEqual([expect.objectContaining({ status: 200 })]);
    await screenshot(page, 'checkout-closed-window-confirmed.png');
    expect(problems).toEqual([]);
    await page.close();
  });

  test('a failed payment in the window leaves the hold in place and says so', async () => {
    const { page, problems } = await openCheckout();
    await payInWindow(page, 'fail');
    await page.getByText(/PortOne: 결제에 실패하였습니다/).waitFor();
    await expect(page.getByRole('button', { name: /Pay ₩50,000 with PortOne/ }).isEnabled()).resolves.toBe(true);
    expect(await reservationStatus(t)).toBe(ReservationStatus.HELD);
    expect(problems).toEqual([]);
    await page.close();
  });
});

describeWithBrowser('reference checkout at /demo with PortOne V2 (the V2 simulator\'s window)', () => {
  let browser: Browser;
  let t: TestApp;
  beforeAll(async () => {
    browser = await launchChromium();
    t = await startTestApp({ portoneVersion: 'v2' });
  });
  afterAll(async () => {
    await t?.close();
    await browser?.close();
  });
  beforeEach(async () => {
    await t.reset();
    await createEventViaApi(t);
  });

  test.each([
    ['the window answers', 'pay'],
    ['the window is closed after paying (a signed webhook)', 'pay-and-close'],
  ] as const)('an honest payment ends confirmed when %s', async (_case, button) => {
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    const problems = watchProblems(page);
    await page.goto(t.url.replace(/\/graphql$/, '/demo'));
    await holdFirstSeat(page, await t.tokenFor('buyer-1'));
    await payInWindow(page, button);
    await page.locator('[data-outcome=confirmed]').waitFor({ timeout: 20_000 });
    expect(await reservationStatus(t)).toBe(ReservationStatus.CONFIRMED);
    const [payment] = await t.v2!.allPayments();
    expect(payment).toMatchObject({ status: 'PAID' });
    expect(problems).toEqual([]);
    await page.close();
  });
});

describeWithBrowser('the checkout hosted by a frontend on another origin', () => {
  let browser: Browser;
  let shop: Server;
  let shopOrigin: string;
  /** The settings the shop's page carries: set per test, for the app under test. */
  let settingsFor: (() => Parameters<typeof checkoutPage>[0]) | null = null;

  beforeAll(async () => {
    browser = await launchChromium();
    const script = Buffer.from(await checkoutScript('development'));
    // The same bundle and page as /demo, served by a static host on its own origin; only the API URL differs.
    shop = createServer((request, response) => {
      if (request.url === '/checkout.js') {
        response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
      } else {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(checkoutPage(settingsFor!(), '/checkout.js'));
      }
    });
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    shopOrigin = `http://localhost:${(shop.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => shop?.close(resolve));
  });

  async function openShop(t: TestApp): Promise<{ page: Page; problems: string[] }> {
    await createEventViaApi(t);
    settingsFor = () => ({
      endpoint: t.url,
      token: null,
      payment: { kind: 'simulator', version: 'v1', windowUrl: `${t.simulator.url}/__window`, noticeUrl: t.url.replace(/\/graphql$/, '/webhooks/portone') },
    });
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
    const problems = watchProblems(page);
    await page.goto(`${shopOrigin}/`);
    await page.fill('#buyer-token', await t.tokenFor('buyer-1'));
    await page.getByRole('button', { name: 'Use token' }).click();
    return { page, problems };
  }

  test('works end to end when CORS_ORIGINS lists its origin', async () => {
    const t = await startTestApp({ env: { CORS_ORIGINS: shopOrigin } });
    try {
      await t.reset();
      const { page, problems } = await openShop(t);
      await page.getByRole('button', { name: /Test concert/ }).click();
      await page.getByRole('button', { name: /^A1/ }).click();
      await page.getByRole('button', { name: 'Hold seat' }).click();
      await payInWindow(page, 'pay');
      await page.locator('[data-outcome=confirmed]').waitFor();
      expect(await reservationStatus(t)).toBe(ReservationStatus.CONFIRMED);
      await screenshot(page, 'checkout-other-origin.png');
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await t.close();
    }
  });

  test('cannot reach the API when its origin is not listed', async () => {
    const t = await startTestApp({ startWorker: false, env: { CORS_ORIGINS: 'https://other-shop.example' } });
    try {
      await t.reset();
      const { page, problems } = await openShop(t);
      await page.getByText(/Could not load events: Failed to fetch/).waitFor();
      expect(problems.join('\n')).toMatch(/blocked by CORS policy/);
      await page.close();
    } finally {
      await t.close();
    }
  });
});
