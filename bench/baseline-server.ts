/**
 * The raw baseline of `npm run bench`: the minimum correct work of each benchmarked call, written with `pg`,
 * node:http and the runtime's keep-alive `fetch`, without GraphQL or an ORM, against the same schema (the
 * app's migrations) and the same PortOne simulator. It is the yardstick the app's numbers are divided by,
 * not a second implementation of the product: it handles only the paths the benchmark drives.
 *
 * Run as its own process: DATABASE_URL, PORTONE_API_URL, PORTONE_IMP_KEY, PORTONE_IMP_SECRET, JWT_SECRET,
 * PORT (0 picks one; the `baseline listening on <port>` line reports it).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { Pool, type PoolClient } from 'pg';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const pool = new Pool({ connectionString: env('DATABASE_URL'), max: 20 });
const portoneUrl = env('PORTONE_API_URL');
const jwtKey = new TextEncoder().encode(env('JWT_SECRET'));

class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// --- PortOne V1: one token per token lifetime, over the runtime's pooled keep-alive connections ------------
let token: { value: string; expiresAt: number } | null = null;
let tokenRequest: Promise<string> | null = null;

async function portoneToken(): Promise<string> {
  if (token && token.expiresAt - 60 > Date.now() / 1000) return token.value;
  tokenRequest ??= (async () => {
    const response = await fetch(`${portoneUrl}/users/getToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ imp_key: env('PORTONE_IMP_KEY'), imp_secret: env('PORTONE_IMP_SECRET') }),
    });
    const body = (await response.json()) as { response: { access_token: string; expired_at: number } };
    token = { value: body.response.access_token, expiresAt: body.response.expired_at };
    return token.value;
  })().finally(() => (tokenRequest = null));
  return tokenRequest;
}

interface V1Payment {
  imp_uid: string;
  merchant_uid: string;
  amount: number;
  currency: string;
  status: string;
}

async function portone<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${portoneUrl}${path}`, {
    method,
    headers: { authorization: await portoneToken(), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const parsed = (await response.json()) as { code: number; message: string | null; response: T };
  if (!response.ok || parsed.code !== 0) throw new Refusal('GATEWAY_UNAVAILABLE', `PortOne ${path}: ${parsed.message}`);
  return parsed.response;
}

// --- the calls ---------------------------------------------------------------------------------------------
async function buyerOf(request: IncomingMessage): Promise<string> {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match) throw new Refusal('UNAUTHENTICATED', 'no token');
  const { payload } = await jwtVerify(match[1], jwtKey, { algorithms: ['HS256'], requiredClaims: ['exp', 'iat'] });
  return payload.sub!;
}

async function inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function holdSeat(buyerId: string, input: { seatId: string }) {
  try {
    return await inTransaction(async (client) => {
      const seat = await client.query<{ price: number }>(
        'select s.price from seat s join event e on e.id = s.event_id where s.id = $1 and e.starts_at > now() for update of s',
        [input.seatId],
      );
      if (seat.rowCount === 0) throw new Refusal('SEAT_UNAVAILABLE', 'no such seat, or its event has started');
      const id = randomUUID();
      const merchantUid = `bench-${id}`;
      await client.query(
        `insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, created_at, updated_at)
         values ($1, $2, $3, 'HELD', $4, $5, now() + interval '10 minutes', now(), now())`,
        [id, input.seatId, buyerId, seat.rows[0].price, merchantUid],
      );
      return { id, merchantUid, amount: seat.rows[0].price, status: 'HELD' };
    });
  } catch (error) {
    // The partial unique index on active reservations is the guard against a second holder.
    if ((error as { code?: string }).code === '23505') throw new Refusal('SEAT_UNAVAILABLE', 'seat taken');
    throw error;
  }
}

async function confirmPayment(buyerId: string, input: { reservationId: string; paymentId: string; merchantUid: string }) {
  const payment = await portone<V1Payment>('GET', `/payments/${encodeURIComponent(input.paymentId)}`);
  if (payment.status !== 'paid') throw new Refusal('PAYMENT_NOT_COMPLETED', payment.status);
  const decided = await inTransaction(async (client) => {
    const found = await client.query<{ status: string; amount: number; merchant_uid: string; buyer_id: string }>(
      'select status, amount, merchant_uid, buyer_id from reservation where id = $1 for update',
      [input.reservationId],
    );
    const reservation = found.rows[0];
    if (!reservation || reservation.buyer_id !== buyerId) throw new Refusal('NOT_FOUND', 'reservation');
    if (payment.merchant_uid !== reservation.merchant_uid) throw new Refusal('PAYMENT_NOT_OURS', 'merchant_uid');
    const keep = reservation.status === 'HELD' && payment.amount === reservation.amount && payment.currency === 'KRW';
    const reason = keep ? null : payment.amount !== reservation.amount ? 'AMOUNT_MISMATCH' : 'SEAT_UNAVAILABLE';
    await client.query(
      `insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, refund_reason, decided_by, decided_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, 'confirmPayment', now())`,
      [randomUUID(), payment.imp_uid, input.reservationId, payment.merchant_uid, payment.amount, payment.currency, keep ? 'CONFIRMED' : 'REFUND', reason],
    );
    let refundId: string | null = null;
    if (keep) {
      await client.query(
        `update reservation set status = 'CONFIRMED', confirmed_at = now(), updated_at = now(), version = version + 1 where id = $1`,
        [input.reservationId],
      );
    } else {
      refundId = randomUUID();
      await client.query(
        `insert into refund (id, gateway_payment_id, reservation_id, amount, currency, reason, status, attempts, give_up_at, created_at, updated_at)
         values ($1, $2, $3, $4, 'KRW', $5, 'PENDING', 0, now() + interval '72 hours', now(), now())`,
        [refundId, payment.imp_uid, input.reservationId, payment.amount, reason],
      );
    }
    await client.query(
      `insert into payment_event (at, reservation_id, gateway_payment_id, refund_id, kind, outcome) values (now(), $1, $2, $3, 'confirm', $4)`,
      [input.reservationId, payment.imp_uid, refundId, keep ? 'CONFIRMED' : 'REFUND'],
    );
    return { keep, reason, refundId };
  });
  if (decided.keep) return { __typename: 'PaymentConfirmed', paymentId: payment.imp_uid, amount: payment.amount };
  // The refund is recorded before the cancel is sent, so a crash in between leaves a PENDING refund to retry.
  await portone('POST', '/payments/cancel', { imp_uid: payment.imp_uid, amount: payment.amount, checksum: payment.amount, reason: decided.reason });
  await pool.query(`update refund set status = 'SUCCEEDED', attempts = 1, succeeded_at = now(), updated_at = now() where id = $1`, [decided.refundId]);
  return { __typename: 'PaymentRefunded', reason: decided.reason, refundId: decided.refundId };
}

async function bookingStatuses(apiKey: string, input: { merchantUids: string[] }) {
  const hash = createHash('sha256').update(apiKey, 'utf8').digest('hex');
  const rows = await pool.query(
    `select r.merchant_uid, r.status, r.amount, r.expires_at, r.confirmed_at, r.cancelled_at,
            s.id as seat_id, s.label, s.price, e.id as event_id, e.title, e.starts_at,
            p.amount as paid_amount, f.id as refund_id, f.amount as refund_amount, f.reason, f.status as refund_status
       from reservation r
       join seat s on s.id = r.seat_id
       join event e on e.id = s.event_id
       left join payment p on p.reservation_id = r.id and p.decision = 'CONFIRMED'
       left join refund f on f.reservation_id = r.id
      where r.merchant_uid = any($1)
        and s.event_id in (select pe.event_id from partner_event pe join partner pa on pa.id = pe.partner_id
                            where pa.api_key_hash = $2 and pa.revoked_at is null)`,
    [input.merchantUids, hash],
  );
  return rows.rows;
}

// --- HTTP ------------------------------------------------------------------------------------------------
async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new Refusal('BAD_USER_INPUT', 'body too large');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer({ keepAliveTimeout: 72_000 }, (request, response) => {
  void (async () => {
    try {
      if (request.method !== 'POST') return send(response, 404, { error: { code: 'NOT_FOUND' } });
      const body = await readJson(request);
      // The same envelope as GraphQL (`data.<call>`), so one classifier reads both servers.
      switch (request.url) {
        case '/holdSeat':
          return send(response, 200, { data: { holdSeat: await holdSeat(await buyerOf(request), body as { seatId: string }) } });
        case '/confirmPayment':
          return send(response, 200, { data: { confirmPayment: await confirmPayment(await buyerOf(request), body as never) } });
        case '/bookingStatuses':
          return send(response, 200, { data: { bookingStatuses: await bookingStatuses(String(request.headers['x-api-key'] ?? ''), body as never) } });
        default:
          return send(response, 404, { error: { code: 'NOT_FOUND' } });
      }
    } catch (error) {
      // Like the app's GraphQL errors: a refusal is a 200 with a code, only a fault is a 5xx.
      if (error instanceof Refusal) return send(response, 200, { errors: [{ extensions: { code: error.code }, message: error.message }] });
      process.stderr.write(`${request.url}: ${error instanceof Error ? error.message : String(error)}\n`);
      send(response, 500, { errors: [{ extensions: { code: 'INTERNAL' }, message: 'internal error' }] });
    }
  })();
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`baseline listening on ${(server.address() as AddressInfo).port}\n`);
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => void pool.end().then(() => process.exit(0)));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
// The harness holds our stdin open; when it goes away (even killed), so do we.
process.stdin.on('end', stop).on('close', stop).resume();
