import { Reservation } from '../../src/booking/reservation.entity';
import { pollAfterSeconds } from '../../src/payment/graphql/payment.types';
import { Refund, RefundStatus } from '../../src/payment/refunds/refund.entity';
import { CheckoutConfirmDocument, CheckoutHoldDocument, CheckoutReservationStatusDocument } from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { expectMember } from '../support/expect-member';
import { useTestApp } from '../support/test-app';
import { waitFor } from '../support/wait';

/** What a React client reads: holds that ended read EXPIRED, holding again is idempotent, refunds say when to look again. */
const t = useTestApp({ env: { REFUND_BACKOFF_BASE_MS: '1500', REFUND_BACKOFF_MAX_MS: '1500' } });

describe('a hold past its end', () => {
  test('reads EXPIRED once its end and the payment grace are over, before anything rewrites the row', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const hold = (await t.gql(CheckoutHoldDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
    const read = async () => (await t.gql(CheckoutReservationStatusDocument, { id: hold.id }, { token })).data?.reservation?.status;

    await t.orm.em.fork().nativeUpdate(Reservation, { id: hold.id }, { expiresAt: new Date(Date.now() - 1000) });
    expect(await read()).toBe('HELD'); // within the grace a payment made in time may still be settling
    await t.orm.em.fork().nativeUpdate(Reservation, { id: hold.id }, { expiresAt: new Date(Date.now() - 1000 - t.config.holdPaymentGraceMs) });
    expect(await read()).toBe('EXPIRED');
    expect((await t.orm.em.fork().findOneOrFail(Reservation, hold.id)).status).toBe('HELD');
  });
});

describe('holding a seat you already hold', () => {
  test('returns your hold (same id, same end), however many times; others are still refused', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const seatId = event.seats[0].id;
    const holds = await Promise.all(Array.from({ length: 3 }, () => t.gql(CheckoutHoldDocument, { input: { seatId } }, { token })));
    const ids = new Set(holds.map((h) => h.data?.holdSeat.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBeDefined();
    expect(new Set(holds.map((h) => h.data?.holdSeat.expiresAt)).size).toBe(1);
    expect(await t.orm.em.fork().count(Reservation, { seat: seatId })).toBe(1);

    const other = await t.gql(CheckoutHoldDocument, { input: { seatId } }, { token: await t.tokenFor('other') });
    expect(other.errors?.[0]).toMatchObject({ extensions: { code: 'SEAT_UNAVAILABLE' }, message: expect.stringMatching(/someone else/) });
  });

  test('a seat you booked is refused as yours, not as "someone else"', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const hold = (await t.gql(CheckoutHoldDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
    const impUid = await t.simulator.pay({ merchantUid: hold.merchantUid, amount: hold.amount });
    await t.gql(CheckoutConfirmDocument, { input: { reservationId: hold.id, paymentId: impUid, merchantUid: hold.merchantUid } }, { token });
    const again = await t.gql(CheckoutHoldDocument, { input: { seatId: event.seats[0].id } }, { token });
    expect(again.errors?.[0]).toMatchObject({
      message: 'You have already booked seat A1',
      extensions: { code: 'SEAT_UNAVAILABLE', reservationId: hold.id },
    });
  });
});

describe('a PENDING refund', () => {
  test('carries pollAfterSeconds until it is SUCCEEDED, then null', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const hold = (await t.gql(CheckoutHoldDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
    const impUid = await t.simulator.pay({ merchantUid: hold.merchantUid, amount: hold.amount + 100 });
    await t.simulator.fault({ endpoint: 'cancel', kind: 'http503', times: 1 });
    const confirmed = await t.gql(CheckoutConfirmDocument, { input: { reservationId: hold.id, paymentId: impUid, merchantUid: hold.merchantUid } }, { token });
    const { refund } = expectMember(confirmed.data?.confirmPayment, 'PaymentRefunded');
    expect(refund).toMatchObject({ status: 'PENDING' });
    expect(refund.pollAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refund.pollAfterSeconds).toBeLessThanOrEqual(60);

    await waitFor(async () => (await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: impUid })).status === RefundStatus.SUCCEEDED || null);
    const read = await t.gql(CheckoutReservationStatusDocument, { id: hold.id }, { token });
    expect(read.data?.reservation?.refund).toMatchObject({ status: 'SUCCEEDED', pollAfterSeconds: null });
  });

  test('the hint is one second after the next attempt, within 1 to 60', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(pollAfterSeconds(null, now)).toBe(2);
    expect(pollAfterSeconds(new Date(now - 5000), now)).toBe(2);
    expect(pollAfterSeconds(new Date(now + 1500), now)).toBe(3);
    expect(pollAfterSeconds(new Date(now + 3_600_000), now)).toBe(60);
  });
});
