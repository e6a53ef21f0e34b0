import fetch from 'node-fetch';
import type { CheckoutSettings } from '../../src/http/demo-checkout';
import { startTestApp, type TestApp } from '../support/test-app';

/** What GET /demo tells the checkout (its inline settings), and the headers it is served with. */
async function demoPage(t: TestApp): Promise<{ status: number; settings: CheckoutSettings | null; csp: string; coop: string }> {
  const response = await fetch(t.url.replace(/\/graphql$/, '/demo'));
  const html = await response.text();
  const json = /<script type="application\/json" id="checkout-settings">([^<]*)<\/script>/.exec(html)?.[1];
  return {
    status: response.status,
    settings: json ? (JSON.parse(json) as CheckoutSettings) : null,
    csp: response.headers.get('content-security-policy') ?? '',
    coop: response.headers.get('cross-origin-opener-policy') ?? '',
  };
}

const directive = (csp: string, name: string) => csp.split(';').find((part) => part.trim().startsWith(`${name} `))?.trim() ?? '';

test('against the simulator: its payment window, the webhook URL, scripts from this origin only, and popups may answer', async () => {
  const t = await startTestApp({ startWorker: false });
  try {
    const page = await demoPage(t);
    expect(page.status).toBe(200);
    expect(page.settings).toEqual({
      endpoint: '/graphql',
      token: null,
      payment: { kind: 'simulator', version: 'v1', windowUrl: `${t.simulator.url}/__window`, noticeUrl: t.url.replace(/\/graphql$/, '/webhooks/portone') },
    });
    expect(directive(page.csp, 'script-src')).toBe("script-src 'self'");
    expect(page.coop).toBe('same-origin-allow-popups');
    const script = await fetch(t.url.replace(/\/graphql$/, '/demo/checkout.js'));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    // Read to its end: an unread body leaves its socket open, paused, after the server has closed.
    expect((await script.text()).length).toBeGreaterThan(0);
    // The window itself: served by the simulator, not by us.
    const window = await fetch(`${t.simulator.url}/__window?merchant_uid=m&amount=1000&name=n&origin=http://localhost`);
    expect(await window.text()).toContain('<script src="__window/window.js">');
  } finally {
    await t.close();
  }
});

test('against the V2 simulator: its V2 window, webhooks signed and sent where the server set them', async () => {
  const t = await startTestApp({ startWorker: false, portoneVersion: 'v2' });
  try {
    expect((await demoPage(t)).settings?.payment).toEqual({ kind: 'simulator', version: 'v2', windowUrl: `${t.v2!.url}/__window`, noticeUrl: null });
  } finally {
    await t.close();
  }
});

test('against real PortOne V1: IMP.request_pay from PortOne CDN with the merchant code, and the CSP allows it', async () => {
  const t = await startTestApp({
    startWorker: false,
    env: { PORTONE_API_URL: 'https://api.iamport.kr', PORTONE_IMP_KEY: 'key', PORTONE_IMP_SECRET: 'secret', PORTONE_IMP_CODE: 'imp12345678' },
  });
  try {
    const page = await demoPage(t);
    expect(page.settings?.payment).toEqual({ kind: 'portone-v1', sdkUrl: 'https://cdn.iamport.kr/v1/iamport.js', impCode: 'imp12345678', channelKey: null });
    expect(directive(page.csp, 'script-src')).toContain('https://cdn.iamport.kr');
    expect(directive(page.csp, 'frame-src')).toBe('frame-src https:');
  } finally {
    await t.close();
  }
});

test('against real PortOne V2: the browser SDK with the store id and channel key', async () => {
  const t = await startTestApp({ startWorker: false, portoneVersion: 'v2', env: { PORTONE_API_URL: 'https://api.portone.io', PORTONE_CHANNEL_KEY: 'channel-key-test' } });
  try {
    const page = await demoPage(t);
    expect(page.settings?.payment).toEqual({ kind: 'portone-v2', storeId: t.config.portone.storeId, channelKey: 'channel-key-test' });
    expect(directive(page.csp, 'script-src')).toContain('https://cdn.portone.io');
  } finally {
    await t.close();
  }
});

test('DEMO_CHECKOUT=false serves no checkout', async () => {
  const t = await startTestApp({ startWorker: false, env: { DEMO_CHECKOUT: 'false' } });
  try {
    expect((await demoPage(t)).status).toBe(404);
    expect((await fetch(t.url.replace(/\/graphql$/, '/demo/checkout.js'))).status).toBe(404);
  } finally {
    await t.close();
  }
});
