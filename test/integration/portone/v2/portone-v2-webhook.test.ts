import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { PortOneV2SimulatorControlClient } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';
import { newWebhookSecret, startPortOneV2Simulator, type PortOneV2Simulator } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import { PortOneV2WebhookVerifier, transactionPaymentId } from '../../../../src/gateway/portone/v2/portone-v2.webhook';
import { waitFor } from '../../../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../../../support/webhook-receiver';

/**
 * V2 webhook signatures. The signer in most tests is the `standardwebhooks` library (not our simulator,
 * not PortOne's SDK that our verifier uses), and the specification's own test vector is checked too.
 */
const SECRET_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_B = newWebhookSecret();
const BODY = '{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":{"paymentId":"order-1","storeId":"store-1","transactionId":"tx-1"}}';

function signed(secret: string, body = BODY, options: { id?: string; at?: Date } = {}) {
  const id = options.id ?? 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
  const at = options.at ?? new Date();
  return {
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body),
    } as Record<string, string>,
  };
}

describe('verification', () => {
  const verifier = new PortOneV2WebhookVerifier([SECRET_A, SECRET_B]);

  test('the Standard Webhooks specification test vector verifies (at its own time)', async () => {
    const now = jest.spyOn(Date, 'now').mockReturnValue(1614265330 * 1000);
    try {
      const result = await new PortOneV2WebhookVerifier(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']).verify(Buffer.from('{"test": 2432232314}'), {
        'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
        'webhook-timestamp': '1614265330',
        'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      });
      // Not a PortOne event (no `type`), but the signature itself verified: INVALID_BODY, not NO_MATCHING_SIGNATURE.
      expect(result).toEqual({ ok: false, reason: 'INVALID_BODY' });
      const tampered = await new PortOneV2WebhookVerifier(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']).verify(Buffer.from('{"test": 2432232315}'), {
        'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
        'webhook-timestamp': '1614265330',
        'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      });
      expect(tampered).toEqual({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
    } finally {
      now.mockRestore();
    }
  });

  test.each([
    ['the first secret', SECRET_A],
    ['the second secret (rotation)', SECRET_B],
  ])('a webhook signed with %s verifies on the raw bytes and returns the event', async (_name, secret) => {
    const { body, headers } = signed(secret);
    const result = await verifier.verify(Buffer.from(body), headers);
    expect(result).toEqual({ ok: true, webhookId: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', event: JSON.parse(BODY) });
  });

  test('the whsec_ prefix is optional on our side', async () => {
    const { body, headers } = signed(SECRET_A);
    const unprefixed = new PortOneV2WebhookVerifier([SECRET_A.replace(/^whsec_/, '')]);
    expect((await unprefixed.verify(Buffer.from(body), headers)).ok).toBe(true);
  });

  test('a signature by a secret we do not hold fails', async () => {
    const { body, headers } = signed(newWebhookSecret());
    expect(await verifier.verify(Buffer.from(body), headers)).toEqual({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
  });

  test('a corrupted signature fails', async () => {
    const { body, headers } = signed(SECRET_A);
    const signature = headers['webhook-signature'];
    headers['webhook-signature'] = `v1,${signature[3] === 'A' ? 'B' : 'A'}${signature.slice(4)}`;
    expect(await verifier.verify(Buffer.from(body), headers)).toEqual({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
  });

  test.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('a missing %s header fails', async (header) => {
    const { body, headers } = signed(SECRET_A);
    delete headers[header];
    expect(await verifier.verify(Buffer.from(body), headers)).toEqual({ ok: false, reason: 'MISSING_REQUIRED_HEADERS' });
  });

  test('a timestamp 10 minutes old or 10 minutes ahead fails; 4 minutes either way passes', async () => {
    const at = (minutes: number) => new Date(Date.now() + minutes * 60_000);
    const check = async (minutes: number) => {
      const { body, headers } = signed(SECRET_B, BODY, { at: at(minutes) });
      return verifier.verify(Buffer.from(body), headers);
    };
    expect(await check(-10)).toEqual({ ok: false, reason: 'TIMESTAMP_TOO_OLD' });
    expect(await check(10)).toEqual({ ok: false, reason: 'TIMESTAMP_TOO_NEW' });
    expect((await check(-4)).ok).toBe(true);
    expect((await check(4)).ok).toBe(true);
  });

  test('a body parsed and serialised again does not verify', async () => {
    const { body, headers } = signed(SECRET_A, '{"type": "Transaction.Paid", "data": {"paymentId": "order-1"}}');
    expect((await verifier.verify(Buffer.from(body), headers)).ok).toBe(true);
    const reserialised = JSON.stringify(JSON.parse(body));
    expect(reserialised).not.toBe(body);
    expect(await verifier.verify(Buffer.from(reserialised), headers)).toEqual({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
  });

  test('bytes that are not UTF-8 are refused, not decoded loosely', async () => {
    const { headers } = signed(SECRET_A);
    expect(await verifier.verify(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), headers)).toEqual({ ok: false, reason: 'INVALID_BODY' });
  });

  test('property: whatever the id, time (within 5 min) and body, a standardwebhooks signature verifies and any changed byte fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^msg_[A-Za-z0-9]{1,30}$/),
        fc.integer({ min: -290, max: 290 }),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer())),
        fc.nat(),
        async (id, skewSeconds, extra, position) => {
          const body = JSON.stringify({ type: 'Transaction.Paid', data: { paymentId: 'p', ...extra } });
          const { headers } = signed(SECRET_B, body, { id, at: new Date(Date.now() + skewSeconds * 1000) });
          const bytes = Buffer.from(body);
          const good = await verifier.verify(bytes, headers);
          if (!good.ok) return false;
          const changed = Buffer.from(bytes);
          changed[position % changed.length] ^= 0x01;
          return !(await verifier.verify(changed, headers)).ok;
        },
      ),
      { numRuns: 100 },
    );
  });

  test('one or two secrets, and only base64 ones, are accepted at construction', () => {
    expect(() => new PortOneV2WebhookVerifier([])).toThrow(/PORTONE_WEBHOOK_SECRET/);
    expect(() => new PortOneV2WebhookVerifier([SECRET_A, SECRET_B, newWebhookSecret()])).toThrow(/PORTONE_WEBHOOK_SECRET/);
    expect(() => new PortOneV2WebhookVerifier(['whsec_not base64!'])).toThrow(/not base64/);
  });
});

describe('event reading', () => {
  test.each([
    [{ type: 'Transaction.Paid', data: { paymentId: 'p1', storeId: 's' } }, 'p1'],
    [{ type: 'Transaction.Cancelled', data: { paymentId: 'p2', cancellationId: 'c' } }, 'p2'],
    [{ type: 'Transaction.SomethingNew', data: { paymentId: 'p3', future: true } }, 'p3'],
    [{ type: 'BillingKey.Issued', data: { billingKey: 'b' } }, null],
    [{ type: 'Transaction.Paid', data: {} }, null],
    [{ type: 'Unknown', extra: 1 }, null],
  ])('%j → %s', (event, expected) => {
    expect(transactionPaymentId(event)).toBe(expected);
  });
});

describe('webhooks sent by the V2 simulator', () => {
  let sim: PortOneV2Simulator;
  let control: PortOneV2SimulatorControlClient;
  let receiver: WebhookReceiver;
  let received: WebhookReceiver['received'];

  beforeAll(async () => {
    receiver = await startWebhookReceiver('/webhooks/portone');
    received = receiver.received;
    sim = await startPortOneV2Simulator({
      apiSecret: 'secret',
      storeId: 'store-sim',
      control: true,
      webhookUrl: receiver.url,
      webhookSecrets: [SECRET_A, SECRET_B],
      webhookRetry: { enabled: true, unitMs: 5, jitter: false },
    });
    control = new PortOneV2SimulatorControlClient(sim.url);
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });
  beforeEach(async () => {
    await control.reset();
    receiver.clear();
  });

  test('a payment sends Transaction.Paid, signed with both active secrets, verifiable with either', async () => {
    await control.createPayment({ paymentId: 'order-w1', amount: 1000 });
    await waitFor(async () => received.length === 1);
    const [delivery] = received;
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(String(delivery.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [SECRET_A, SECRET_B]) {
      const result = await new PortOneV2WebhookVerifier([secret]).verify(delivery.body, delivery.headers);
      expect(result.ok && result.event).toMatchObject({ type: 'Transaction.Paid', data: { paymentId: 'order-w1', storeId: 'store-sim' } });
    }
  });

  test('a virtual account sends VirtualAccountIssued, then Paid on deposit; a cancel sends Cancelled with its cancellationId', async () => {
    await control.createPayment({ paymentId: 'order-va', amount: 1000, status: 'VIRTUAL_ACCOUNT_ISSUED' });
    await control.deposit('order-va');
    await control.consoleCancel('order-va', { amount: 400 });
    await control.consoleCancel('order-va');
    await waitFor(async () => received.length === 4);
    const verifier = new PortOneV2WebhookVerifier([SECRET_A]);
    const events = await Promise.all(received.map(async (d) => (await verifier.verify(d.body, d.headers)) as { ok: true; event: { type: string; data: { cancellationId?: string } } }));
    expect(events.map((e) => e.event.type).sort()).toEqual(['Transaction.Cancelled', 'Transaction.Paid', 'Transaction.PartialCancelled', 'Transaction.VirtualAccountIssued']);
    expect(events.filter((e) => e.event.type.includes('Cancelled')).every((e) => typeof e.event.data.cancellationId === 'string')).toBe(true);
  });

  test('knobs: a corrupted signature and a 10-minute-old timestamp are refused; a duplicate repeats the same webhook-id', async () => {
    const verifier = new PortOneV2WebhookVerifier([SECRET_A, SECRET_B]);
    await control.sendWebhook({ type: 'Transaction.Paid', paymentId: 'x', corruptSignature: true, wait: true, retry: false });
    await control.sendWebhook({ type: 'Transaction.Paid', paymentId: 'x', timestampSkewSeconds: -600, wait: true, retry: false });
    await control.sendWebhook({ type: 'Transaction.Paid', paymentId: 'x', duplicate: true, wait: true });
    const results = await Promise.all(received.map((d) => verifier.verify(d.body, d.headers)));
    expect(results.slice(0, 2)).toEqual([
      { ok: false, reason: 'NO_MATCHING_SIGNATURE' },
      { ok: false, reason: 'TIMESTAMP_TOO_OLD' },
    ]);
    expect(results.slice(2).every((r) => r.ok)).toBe(true);
    expect(received[2].headers['webhook-id']).toBe(received[3].headers['webhook-id']);
  });

  test('a failed delivery is retried with the same id and body, at most 5 more times, each attempt signed', async () => {
    receiver.answer = 500;
    await control.sendWebhook({ type: 'Transaction.Paid', paymentId: 'order-retry', wait: true });
    expect(received).toHaveLength(6);
    expect(new Set(received.map((d) => d.headers['webhook-id'])).size).toBe(1);
    expect(new Set(received.map((d) => d.body.toString())).size).toBe(1);
    const verifier = new PortOneV2WebhookVerifier([SECRET_B]);
    expect((await Promise.all(received.map((d) => verifier.verify(d.body, d.headers)))).every((r) => r.ok)).toBe(true);
    const ledger = await control.ledger();
    expect(ledger.webhooks.map((w) => w.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('retries can be switched off at run time, and reset restores them', async () => {
    receiver.answer = 503;
    await control.setWebhookRetry({ enabled: false });
    await control.sendWebhook({ type: 'Transaction.Paid', paymentId: 'order-noretry', wait: true });
    expect(received).toHaveLength(1);
    await control.reset();
    received.length = 0;
    await control.sendWebhook({ type: 'Transaction.Paid', paymentId: 'order-retry-again', wait: true });
    expect(received).toHaveLength(6);
  });

  test('the knobs endpoint applies to the next automatic deliveries only', async () => {
    await control.setWebhookKnobs({ corruptSignature: true, times: 1 });
    await control.createPayment({ paymentId: 'order-k1', amount: 1000 });
    await waitFor(async () => received.length === 1);
    await control.createPayment({ paymentId: 'order-k2', amount: 1000 });
    await waitFor(async () => received.length === 2);
    const verifier = new PortOneV2WebhookVerifier([SECRET_A]);
    const byPayment = new Map<string, boolean>();
    for (const d of received) byPayment.set(JSON.parse(d.body.toString()).data.paymentId, (await verifier.verify(d.body, d.headers)).ok);
    expect(Object.fromEntries(byPayment)).toEqual({ 'order-k1': false, 'order-k2': true });
  });
});
