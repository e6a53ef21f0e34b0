import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { browserTestsAvailable, launchChromium } from '../support/browser';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * A frontend on its own origin (here http://localhost:PORT, while the API listens on 127.0.0.1) calls
 * the API from a real browser: it works only when CORS_ORIGINS lists that origin.
 */
const describeWithBrowser = browserTestsAvailable() ? describe : describe.skip;

describeWithBrowser('a frontend on another origin', () => {
  let browser: Browser;
  let shop: Server;
  let shopOrigin: string;

  beforeAll(async () => {
    browser = await launchChromium();
    shop = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>shop</title><p>shop</p>');
    });
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    shopOrigin = `http://localhost:${(shop.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => shop?.close(resolve));
  });

  /** What the shop's page gets when it calls the API the way Apollo Client does (JSON POST, bearer token). */
  async function callFromShop(testApp: TestApp): Promise<unknown> {
    // A buyer of its own: the worker's database is shared with other test files, whose buyers hold seats.
    const token = await testApp.tokenFor(`cors-buyer-${randomUUID()}`);
    const page = await browser.newPage();
    try {
      await page.goto(`${shopOrigin}/`);
      return await page.evaluate(
        async ({ url, token }) => {
          try {
            const response = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ query: '{ myReservations { id } }' }),
            });
            return await response.json();
          } catch (error) {
            return `blocked: ${String(error)}`;
          }
        },
        { url: testApp.url, token },
      );
    } finally {
      await page.close();
    }
  }

  test('is blocked by the browser when its origin is not listed', async () => {
    const testApp = await startTestApp({ startWorker: false, env: { CORS_ORIGINS: 'https://other-shop.example' } });
    try {
      await expect(callFromShop(testApp)).resolves.toMatch(/^blocked: TypeError: Failed to fetch/);
    } finally {
      await testApp.close();
    }
  });

  test('works when CORS_ORIGINS lists it', async () => {
    const testApp = await startTestApp({ startWorker: false, env: { CORS_ORIGINS: shopOrigin } });
    try {
      await expect(callFromShop(testApp)).resolves.toEqual({ data: { myReservations: [] } });
    } finally {
      await testApp.close();
    }
  });
});
