/**
 * `npm run simulator [-- --port N] [--webhook-url URL]`: the PortOne simulator alone (V1, and V2 under
 * `/v2`), with its control API, for frontend developers who want a PortOne to pay against without the
 * booking server's own copy.
 */
import { parseArgs } from 'node:util';
import { SIMULATOR_IMP_KEY, SIMULATOR_IMP_SECRET, SIMULATOR_V2_API_SECRET, SIMULATOR_V2_STORE_ID, SIMULATOR_V2_WEBHOOK_SECRET } from '../../../config';
import { startPortOneSimulator } from './portone-simulator';

const USAGE = 'usage: npm run simulator -- [--port N] [--host H] [--webhook-url URL] [--imp-key K] [--imp-secret S]';

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORTONE_SIMULATOR_PORT ?? '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      'webhook-url': { type: 'string' },
      'imp-key': { type: 'string', default: SIMULATOR_IMP_KEY },
      'imp-secret': { type: 'string', default: SIMULATOR_IMP_SECRET },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) throw new Error(`--port must be a whole number from 0 to 65535 (got "${values.port}")`);
  const webhookUrl = values['webhook-url'] ?? null;
  if (webhookUrl !== null && !/^https?:\/\/\S+$/.test(webhookUrl)) throw new Error(`--webhook-url must be an http(s) URL (got "${webhookUrl}")`);
  return { port: Number(values.port), host: values.host, webhookUrl, impKey: values['imp-key'], impSecret: values['imp-secret'] };
}

async function main(): Promise<void> {
  const { port, host, webhookUrl, impKey, impSecret } = options();
  const v2 = { apiSecret: SIMULATOR_V2_API_SECRET, storeId: SIMULATOR_V2_STORE_ID, webhookSecrets: [SIMULATOR_V2_WEBHOOK_SECRET], webhookUrl, control: true };
  const simulator = await startPortOneSimulator({ port, host, impKey, impSecret, webhookUrl, control: true, v2 });
  const url = simulator.url;
  process.stdout.write(
    [
      `PortOne V1 simulator: ${url}`,
      `imp_key:              ${impKey}`,
      `imp_secret:           ${impSecret}`,
      `control API:          ${url}/__control  (POST /__control/payments plays the payment window; GET /__control/ledger)`,
      `webhooks:             ${webhookUrl ?? 'none (pass --webhook-url http://127.0.0.1:4000/webhooks/portone)'}`,
      '',
      `Server against it:    PORTONE_API_URL=${url} PORTONE_IMP_KEY=${impKey} PORTONE_IMP_SECRET=${impSecret} npm start`,
      '',
      `PortOne V2 simulator: ${url}/v2  (control API: ${url}/v2/__control; signed webhooks to the same URL)`,
      `Server against it:    PORTONE_VERSION=v2 PORTONE_API_URL=${url}/v2 PORTONE_API_SECRET=${v2.apiSecret} PORTONE_STORE_ID=${v2.storeId} PORTONE_WEBHOOK_SECRET=${SIMULATOR_V2_WEBHOOK_SECRET} npm start`,
      '',
    ].join('\n'),
  );
  const stop = () => {
    void simulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
});
