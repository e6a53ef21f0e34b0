import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config';
import { bundleForBrowser } from './browser-bundle';
import type { CheckoutPaymentWindow, CheckoutSettings } from './demo-checkout.settings';
import { GRAPHQL_IDE_CSP_DIRECTIVES } from './graphql-ide';

const CHECKOUT_SOURCE = join(process.cwd(), 'web', 'demo', 'main.tsx');

/** PortOne's V1 browser SDK (`IMP.request_pay`), from PortOne's CDN: it is not published on npm. */
export const PORTONE_V1_SDK_URL = 'https://cdn.iamport.kr/v1/iamport.js';

export interface DemoCheckoutOptions {
  enabled: boolean;
  mode: 'development' | 'production';
  portone: AppConfig['portone'];
  /** The simulator's API base URL for PORTONE_VERSION when PortOne is simulated (PORTONE_API_URL unset); it serves the window. */
  simulatorUrl: string | null;
  presetToken?: () => Promise<string>;
}

export type { CheckoutPaymentWindow, CheckoutSettings };

/**
 * Where PortOne's SDKs load from and talk to. The PG's own payment pages come from many hosts, so frames
 * and form posts may go to any https origin; scripts only from PortOne's CDNs.
 */
const PORTONE_SDK_SOURCES = {
  scriptSrc: ['https://cdn.iamport.kr', 'https://cdn.portone.io'],
  connectSrc: ['https://*.iamport.kr', 'https://*.portone.io'],
  frameSrc: ['https:'],
};

export function checkoutPaymentWindow(options: Pick<DemoCheckoutOptions, 'portone' | 'simulatorUrl'>, request: FastifyRequest): CheckoutPaymentWindow {
  const { portone } = options;
  if (portone.apiUrl === null) {
    if (options.simulatorUrl === null) return { kind: 'unavailable', reason: 'the PortOne simulator of this server is not reachable from the browser' };
    // Like request_pay's notice_url (V1): the simulator tells this server, also when the buyer closes the window.
    // The V2 simulator signs its webhooks and sends them where the server told it at start.
    const noticeUrl = portone.version === 'v1' ? `${request.protocol}://${request.host}/webhooks/portone` : null;
    return { kind: 'simulator', version: portone.version, windowUrl: `${options.simulatorUrl}/__window`, noticeUrl };
  }
  if (portone.version === 'v2') return { kind: 'portone-v2', storeId: portone.storeId, channelKey: portone.channelKey };
  return { kind: 'portone-v1', sdkUrl: PORTONE_V1_SDK_URL, impCode: portone.impCode, channelKey: portone.channelKey };
}

/**
 * The reference checkout at /demo (React + Apollo Client, web/demo), bundled once per process on its first
 * request (a start, and every test that starts the app, does not pay for it). Served only when
 * DEMO_CHECKOUT is on (development by default).
 */
export async function registerDemoCheckout(server: FastifyInstance, options: DemoCheckoutOptions): Promise<void> {
  if (!options.enabled) return;
  const simulated = options.portone.apiUrl === null;
  const helmet = {
    contentSecurityPolicy: {
      directives: simulated
        ? GRAPHQL_IDE_CSP_DIRECTIVES
        : {
            ...GRAPHQL_IDE_CSP_DIRECTIVES,
            scriptSrc: [...GRAPHQL_IDE_CSP_DIRECTIVES.scriptSrc, ...PORTONE_SDK_SOURCES.scriptSrc],
            connectSrc: [...GRAPHQL_IDE_CSP_DIRECTIVES.connectSrc, ...PORTONE_SDK_SOURCES.connectSrc],
            frameSrc: PORTONE_SDK_SOURCES.frameSrc,
            imgSrc: [...GRAPHQL_IDE_CSP_DIRECTIVES.imgSrc, 'https:'],
          },
    },
    // The payment window is a popup on another origin that answers by postMessage to its opener.
    crossOriginOpenerPolicy: { policy: 'same-origin-allow-popups' as const },
  };
  server.get('/demo', { helmet }, async (request, reply) => {
    const settings: CheckoutSettings = {
      endpoint: '/graphql',
      token: options.presetToken ? await options.presetToken() : null,
      payment: checkoutPaymentWindow(options, request),
    };
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(checkoutPage(settings, '/demo/checkout.js'));
  });
  server.get('/demo/checkout.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(Buffer.from(await checkoutScript(options.mode))),
  );
}

/** The checkout's browser script: the same bundle /demo serves (a frontend on its own origin hosts it too). */
export function checkoutScript(mode: 'development' | 'production'): Promise<Uint8Array> {
  return bundleForBrowser(CHECKOUT_SOURCE, { mode });
}

/** JSON inside a <script> block: `<` escaped so no value can close the block. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function checkoutPage(settings: CheckoutSettings, scriptUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Booking API · reference checkout</title>
<link rel="icon" href="data:,">
<style>${CHECKOUT_CSS}</style>
</head>
<body>
<div id="root"></div>
<script type="application/json" id="checkout-settings">${scriptSafeJson(settings)}</script>
<script src="${scriptUrl}"></script>
</body>
</html>
`;
}

const CHECKOUT_CSS = `
  * { box-sizing: border-box; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f6f7fb; color: #1d2433; }
  header { display: flex; align-items: center; gap: 16px; padding: 14px 28px; background: #1d2433; color: white; }
  header h1 { font-size: 17px; margin: 0; flex: 1; }
  header button { background: transparent; color: #c9d1e4; border: 1px solid #4a5470; border-radius: 4px; padding: 3px 9px; cursor: pointer; font: inherit; font-size: 13px; }
  header button[aria-pressed="true"] { background: white; color: #1d2433; }
  main { max-width: 760px; margin: 24px auto; padding: 0 20px; }
  section { background: white; border-radius: 10px; box-shadow: 0 1px 3px rgba(20, 30, 60, .12); padding: 18px 22px; margin-bottom: 18px; }
  h2 { font-size: 15px; margin: 0 0 12px; color: #4a5470; text-transform: uppercase; letter-spacing: .04em; }
  .events { display: flex; flex-wrap: wrap; gap: 8px; }
  .seats { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: 8px; margin-top: 14px; }
  button.choice { border: 1px solid #ccd3e3; background: white; border-radius: 8px; padding: 8px 12px; cursor: pointer; font: inherit; text-align: left; }
  button.choice[aria-pressed="true"] { border-color: #3456d1; background: #eef2ff; }
  button.choice:disabled { color: #a0a7b8; background: #f1f2f6; cursor: not-allowed; }
  button.choice small { display: block; color: #667085; }
  button.primary { background: #3456d1; color: white; border: 0; border-radius: 8px; padding: 10px 18px; font: inherit; font-weight: 600; cursor: pointer; }
  button.primary:disabled { background: #a9b6e8; cursor: default; }
  dl { display: grid; grid-template-columns: 150px 1fr; gap: 6px 12px; margin: 0 0 14px; }
  dt { color: #667085; } dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
  .countdown { font-variant-numeric: tabular-nums; font-weight: 700; }
  .outcome.confirmed { border-left: 5px solid #1f9d55; }
  .outcome.refunded { border-left: 5px solid #d97706; }
  .outcome h2 { text-transform: none; letter-spacing: 0; font-size: 18px; color: #1d2433; }
  .message { font-size: 16px; margin: 0 0 12px; }
  .badge { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 13px; font-weight: 600; background: #fef3c7; color: #92400e; }
  .badge.SUCCEEDED, .badge.CONFIRMED { background: #dcfce7; color: #166534; }
  .badge.NEEDS_ATTENTION { background: #fee2e2; color: #991b1b; }
  .notice { color: #8a1c1c; }
  .muted { color: #667085; font-size: 13px; }
  label.token { display: flex; gap: 8px; align-items: center; }
  label.token input { flex: 1; font: inherit; padding: 6px 8px; border: 1px solid #ccd3e3; border-radius: 6px; }
`;
