import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fetch from 'node-fetch';
import type { Browser } from 'playwright-core';
import { browserTestsAvailable, launchChromium } from '../support/browser';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * GET /graphql in a browser is GraphiQL served from this server alone: with every other host blocked
 * the IDE renders, runs a query and shows the demo buyer's token in development.
 */
const SCREENSHOTS = join(process.cwd(), 'screenshots');
const describeWithBrowser = browserTestsAvailable() ? describe : describe.skip;

describeWithBrowser('GraphiQL offline', () => {
  let browser: Browser;
  let testApp: TestApp;

  beforeAll(async () => {
    browser = await launchChromium();
    // The development default (no JWT_SECRET, no DATABASE_URL) is the demo mode that presets the token.
    testApp = await startTestApp({ env: { NODE_ENV: 'development', JWT_SECRET: '' }, startWorker: false });
  });
  afterAll(async () => {
    await testApp?.close();
    await browser?.close();
  });

  test('renders from our own routes only, with the demo buyer token preset, and runs a query', async () => {
    const origin = new URL(testApp.url).origin;
    const context = await browser.newContext();
    const blocked: string[] = [];
    const served: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) {
        served.push(new URL(url).pathname);
        return route.continue();
      }
      blocked.push(url);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });

    await page.goto(testApp.url);
    await page.locator('.graphiql-container').waitFor({ state: 'visible', timeout: 30_000 });

    const settings = JSON.parse((await page.locator('#graphql-ide-settings').textContent()) ?? '{}') as { headers?: string };
    const authorization = (JSON.parse(settings.headers ?? '{}') as { Authorization?: string }).Authorization ?? '';
    const viewer = await testApp.app.identity.viewerFromAuthorization(authorization);
    expect(viewer).toMatchObject({ userId: 'demo-buyer' });
    await expect(page.locator('.graphiql-editor-tool').innerText()).resolves.toContain('Bearer ');

    await page.locator('.graphiql-execute-button').click();
    await page.locator('.graphiql-response').getByText('"events"').waitFor({ timeout: 15_000 });

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'graphiql.png') });
    expect(blocked).toEqual([]);
    expect(served).toEqual(expect.arrayContaining(['/graphql', '/graphql-ide/graphiql.min.js', '/graphql-ide/start.js']));
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe('GraphiQL in production', () => {
  const productionEnv = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    PORTONE_API_URL: 'http://127.0.0.1:1',
    PORTONE_IMP_KEY: 'key',
    PORTONE_IMP_SECRET: 'secret',
  };
  const fetchPage = (testApp: TestApp, path: string) =>
    fetch(new URL(path, testApp.url).toString(), { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });

  test('is not served unless GRAPHQL_IDE turns it on', async () => {
    const testApp = await startTestApp({ env: productionEnv, startWorker: false });
    try {
      const page = await fetchPage(testApp, '/graphql');
      expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
      expect(await page.text()).not.toContain('graphiql');
      expect((await fetchPage(testApp, '/graphql-ide/graphiql.min.js')).status).toBe(404);
    } finally {
      await testApp.close();
    }
  });

  test('GRAPHQL_IDE=true serves it, with no token preset and a CSP that allows only this origin', async () => {
    const testApp = await startTestApp({ env: { ...productionEnv, GRAPHQL_IDE: 'true' }, startWorker: false });
    try {
      const page = await fetchPage(testApp, '/graphql');
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain('/graphql-ide/graphiql.min.js');
      expect(html).not.toMatch(/https?:\/\//);
      expect(html).not.toContain('Bearer');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      const bundle = await fetchPage(testApp, '/graphql-ide/graphiql.min.js');
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('content-type')).toContain('javascript');
      // Read to its end: an unread body leaves its socket open, paused, after the server has closed.
      expect((await bundle.text()).length).toBeGreaterThan(0);
    } finally {
      await testApp.close();
    }
  });
});
