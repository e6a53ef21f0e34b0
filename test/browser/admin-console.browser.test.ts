import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { Refund, RefundStatus } from '../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument } from '../generated/graphql';
import { browserTestsAvailable, launchChromium } from '../support/browser';
import { createEventViaApi } from '../support/fixtures';
import { startTestApp, type TestApp } from '../support/test-app';
import { waitFor } from '../support/wait';

/** An operator finds a refund that needs attention in the console at /admin and retries it. */
const SCREENSHOTS = join(process.cwd(), 'screenshots');
const describeWithBrowser = browserTestsAvailable() ? describe : describe.skip;

describeWithBrowser('operator console', () => {
  let browser: Browser;
  let t: TestApp;
  beforeAll(async () => {
    browser = await launchChromium();
    t = await startTestApp({ env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '400', REFUND_RETRY_WINDOW_MS: '1500' } });
  });
  afterAll(async () => {
    await t?.close();
    await browser?.close();
  });

  test('retries a NEEDS_ATTENTION refund after confirming, and shows it SUCCEEDED', async () => {
    const event = await createEventViaApi(t);
    const buyer = await t.tokenFor('buyer');
    const hold = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: buyer })).data!.holdSeat;
    const impUid = await t.simulator.pay({ merchantUid: hold.merchantUid, amount: hold.amount + 500 });
    await t.simulator.fault({ endpoint: 'cancel', kind: 'http503', times: 1000 });
    await t.gql(ConfirmPaymentDocument, { input: { reservationId: hold.id, paymentId: impUid, merchantUid: hold.merchantUid } }, { token: buyer });
    const stuck = await waitFor(async () => {
      const refund = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: impUid });
      return refund.status === RefundStatus.NEEDS_ATTENTION ? refund : null;
    });
    await t.simulator.clearFaults();

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.goto(t.url.replace(/\/graphql$/, '/admin'));
    await page.fill('#token', await t.tokenFor('operator', ['admin']));
    await page.click('button[type=submit]');
    const row = page.locator(`tr[data-refund-id="${stuck.id}"]`);
    await row.waitFor();
    await expect(row.innerText()).resolves.toMatch(/NEEDS_ATTENTION[\s\S]*AMOUNT_MISMATCH/);
    await expect(row.innerText()).resolves.toMatch(/UNAVAILABLE|OUTCOME_UNKNOWN|503/);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'admin-console-needs-attention.png') });

    await row.getByRole('button', { name: 'Retry' }).click();
    await page.getByText(`Refund ${stuck.id}: SUCCEEDED`).waitFor();
    expect(dialogs).toEqual([expect.stringContaining(impUid)]);
    expect((await t.orm.em.fork().findOneOrFail(Refund, stuck.id)).status).toBe(RefundStatus.SUCCEEDED);
    expect((await t.simulator.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(1);

    await page.selectOption('#status', 'SUCCEEDED');
    await page.click('button[type=submit]');
    await page.locator(`tr[data-refund-id="${stuck.id}"]`).getByText('SUCCEEDED').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'admin-console-retried.png') });
    expect(problems).toEqual([]);
    await page.close();
  });
});
