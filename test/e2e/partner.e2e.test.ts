import { Reservation, ReservationStatus } from '../../src/booking/reservation.entity';
import { Payment, PaymentDecision } from '../../src/payment/settlement/payment.entity';
import { Refund, RefundReason } from '../../src/payment/refunds/refund.entity';
import {
  BookingStatusDocument,
  BookingStatusesDocument,
  CreatePartnerDocument,
  HoldSeatDocument,
  RevokePartnerDocument,
} from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { startTestApp, useTestApp } from '../support/test-app';

const t = useTestApp();

async function createPartner(eventIds: string[], name = 'Venue') {
  const admin = await t.tokenFor('admin', ['admin']);
  const result = await t.gql(CreatePartnerDocument, { input: { name, eventIds } }, { token: admin });
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.createPartner;
}

async function holdSeats(seatIds: string[]) {
  const uids: string[] = [];
  for (const [i, seatId] of seatIds.entries()) {
    const hold = await t.gql(HoldSeatDocument, { input: { seatId } }, { token: await t.tokenFor(`buyer-${i}`) });
    uids.push(hold.data!.holdSeat.merchantUid);
  }
  return uids;
}

describe('partner booking status', () => {
  test('a partner sees its own events only, by single and by batch query; the key is stored hashed', async () => {
    const mine = await createEventViaApi(t);
    const theirs = await createEventViaApi(t);
    const { apiKey, partner } = await createPartner([mine.id]);
    expect(apiKey).toMatch(/^pk_/);
    expect(partner.apiKeyPrefix).toBe(apiKey.slice(0, 10));
    const stored = await t.orm.em.getConnection().execute('select api_key_hash from partner');
    expect(JSON.stringify(stored)).not.toContain(apiKey);

    const [myUid] = await holdSeats([mine.seats[0].id]);
    const [theirUid] = await holdSeats([theirs.seats[0].id]);
    const headers = { 'x-api-key': apiKey };

    const own = await t.gql(BookingStatusDocument, { merchantUid: myUid }, { headers });
    expect(own.data?.bookingStatus).toMatchObject({ merchantUid: myUid, status: 'HELD', event: { id: mine.id } });
    const other = await t.gql(BookingStatusDocument, { merchantUid: theirUid }, { headers });
    expect(other.errors).toBeUndefined();
    expect(other.data?.bookingStatus).toBeNull();

    const batch = await t.gql(BookingStatusesDocument, { merchantUids: [theirUid, myUid, 'bk_unknown'] }, { headers });
    expect(batch.data?.bookingStatuses.map((b) => b.merchantUid)).toEqual([myUid]);
  });

  test('a revoked key stops working at once; a buyer token cannot read booking status', async () => {
    const event = await createEventViaApi(t);
    const { apiKey, partner } = await createPartner([event.id]);
    const [uid] = await holdSeats([event.seats[0].id]);
    expect((await t.gql(BookingStatusDocument, { merchantUid: uid }, { headers: { 'x-api-key': apiKey } })).data?.bookingStatus).not.toBeNull();

    const admin = await t.tokenFor('admin', ['admin']);
    await t.gql(RevokePartnerDocument, { id: partner.id }, { token: admin });
    const after = await t.gql(BookingStatusDocument, { merchantUid: uid }, { headers: { 'x-api-key': apiKey } });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const asBuyer = await t.gql(BookingStatusDocument, { merchantUid: uid }, { token: await t.tokenFor('buyer-0') });
    expect(asBuyer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  test('more than 100 order ids is BAD_USER_INPUT naming the argument', async () => {
    const event = await createEventViaApi(t);
    const { apiKey } = await createPartner([event.id]);
    const uids = Array.from({ length: 101 }, (_, i) => `bk_${i}`);
    const result = await t.gql(BookingStatusesDocument, { merchantUids: uids }, { headers: { 'x-api-key': apiKey } });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain('merchantUids');
  });

  test('the SQL statement count is the same small number for 1, 10 and 100 bookings', async () => {
    const seats = Array.from({ length: 100 }, (_, i) => ({ label: `S${i}`, price: 10000 + i }));
    const event = await createEventViaApi(t, seats);
    const { apiKey } = await createPartner([event.id]);
    const uids = await holdSeats(event.seats.map((s) => s.id));
    // Give every booking a decided payment and half of them a refund, so every field has data.
    const em = t.orm.em.fork();
    const reservations = await em.find(Reservation, { merchantUid: { $in: uids } });
    for (const [i, r] of reservations.entries()) {
      const refunded = i % 2 === 0;
      r.status = refunded ? ReservationStatus.HELD : ReservationStatus.CONFIRMED;
      em.create(Payment, {
        gatewayPaymentId: `imp_${i}`,
        reservation: r,
        merchantUid: r.merchantUid,
        amount: r.amount,
        currency: 'KRW',
        decision: refunded ? PaymentDecision.REFUND : PaymentDecision.CONFIRMED,
        refundReason: refunded ? RefundReason.AMOUNT_MISMATCH : null,
        decidedBy: 'CLIENT_CONFIRM',
      });
      if (refunded) {
        em.create(Refund, { gatewayPaymentId: `imp_${i}`, reservation: r, amount: r.amount, reason: RefundReason.AMOUNT_MISMATCH, giveUpAt: new Date() });
      }
    }
    await em.flush();

    const knex = t.orm.em.getConnection().getKnex();
    const counts: number[] = [];
    for (const n of [1, 10, 100]) {
      let statements = 0;
      const onQuery = () => {
        statements += 1;
      };
      knex.on('query', onQuery);
      const result = await t.gql(BookingStatusesDocument, { merchantUids: uids.slice(0, n) }, { headers: { 'x-api-key': apiKey } });
      knex.off('query', onQuery);
      expect(result.errors).toBeUndefined();
      expect(result.data?.bookingStatuses).toHaveLength(n);
      expect(result.data?.bookingStatuses.filter((b) => b.refund !== null)).toHaveLength(
        uids.slice(0, n).filter((uid) => reservations.findIndex((r) => r.merchantUid === uid) % 2 === 0).length,
      );
      expect(result.data?.bookingStatuses.every((b) => b.paidAmount === b.amount)).toBe(true);
      counts.push(statements);
    }
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeLessThanOrEqual(4);
  });
});

describe('abuse limits', () => {
  test('a query over the depth limit is refused before any resolver touches the database', async () => {
    const knex = t.orm.em.getConnection().getKnex();
    let statements = 0;
    const onQuery = () => {
      statements += 1;
    };
    knex.on('query', onQuery);
    const deep = `{ events { seats { event { seats { event { seats { event { seats { event { id } } } } } } } } } }`;
    const result = await t.gql(deep);
    knex.off('query', onQuery);
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.errors?.[0]?.message).toMatch(/depth/i);
    expect(statements).toBe(0);
  });

  test('a query over the cost limit is refused before any resolver touches the database', async () => {
    const knex = t.orm.em.getConnection().getKnex();
    let statements = 0;
    const onQuery = () => {
      statements += 1;
    };
    knex.on('query', onQuery);
    const wide = `{ ${Array.from({ length: 14 }, (_, i) => `a${i}: events { id title startsAt seats { id label price available event { id title startsAt seats { id label price available event { id title startsAt seats { id label price } } } } } }`).join(' ')} }`;
    const result = await t.gql(wide);
    knex.off('query', onQuery);
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.errors?.map((e) => e.message).join(' ')).toMatch(/cost/i);
    expect(statements).toBe(0);
  });

  test('introspection can be switched off (the production default)', async () => {
    const closed = await startTestApp({ env: { GRAPHQL_INTROSPECTION: 'false' } });
    try {
      const refused = await closed.gql('{ __schema { types { name } } }');
      expect(refused.errors?.[0]?.message).toMatch(/introspection/i);
      expect((await t.gql('{ __schema { queryType { name } } }')).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await closed.close();
    }
  });

  test('too many aliases are refused', async () => {
    const aliases = `{ ${Array.from({ length: 20 }, (_, i) => `e${i}: events { id }`).join(' ')} }`;
    const result = await t.gql(aliases);
    expect(result.errors?.[0]?.message).toMatch(/aliases/i);
  });
});
