import { Reservation, ReservationStatus } from '../../src/booking/reservation.entity';
import {
  CancelReservationDocument,
  EventDocument,
  HoldSeatDocument,
  MyReservationsDocument,
  ReservationDocument,
} from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { useTestApp } from '../support/test-app';

const t = useTestApp();

describe('holdSeat', () => {
  test('20 buyers racing for one seat: exactly one HELD, the rest SEAT_UNAVAILABLE', async () => {
    const event = await createEventViaApi(t);
    const seat = event.seats[0];
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => t.tokenFor(`buyer-${i}`)));

    const results = await Promise.all(tokens.map((token) => t.gql(HoldSeatDocument, { input: { seatId: seat.id } }, { token })));

    const held = results.filter((r) => r.data?.holdSeat.status === 'HELD');
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === 'SEAT_UNAVAILABLE');
    expect(held).toHaveLength(1);
    expect(refused).toHaveLength(19);
    expect(held[0].data!.holdSeat.amount).toBe(seat.price);
    const em = t.orm.em.fork();
    expect(await em.count(Reservation, { seat: seat.id })).toBe(1);
  });

  test('an expired hold frees the seat for the next buyer, and the old hold becomes EXPIRED', async () => {
    const event = await createEventViaApi(t);
    const seatId = event.seats[1].id;
    const first = await t.gql(HoldSeatDocument, { input: { seatId } }, { token: await t.tokenFor('early') });
    const firstId = first.data!.holdSeat.id;

    const blocked = await t.gql(HoldSeatDocument, { input: { seatId } }, { token: await t.tokenFor('late') });
    expect(blocked.errors?.[0]?.extensions?.code).toBe('SEAT_UNAVAILABLE');

    // Time passes: the hold ends, and so does its grace (moved in the database rather than by sleeping).
    await t.orm.em.fork().nativeUpdate(Reservation, { id: firstId }, { expiresAt: new Date(Date.now() - 1000) });
    const withinGrace = await t.gql(HoldSeatDocument, { input: { seatId } }, { token: await t.tokenFor('late') });
    expect(withinGrace.errors?.[0]?.extensions?.code).toBe('SEAT_UNAVAILABLE');
    await t.orm.em.fork().nativeUpdate(Reservation, { id: firstId }, { expiresAt: new Date(Date.now() - 1000 - t.config.holdPaymentGraceMs) });

    const second = await t.gql(HoldSeatDocument, { input: { seatId } }, { token: await t.tokenFor('late') });
    expect(second.data?.holdSeat.status).toBe('HELD');
    const old = await t.orm.em.fork().findOneOrFail(Reservation, firstId);
    expect(old.status).toBe(ReservationStatus.EXPIRED);
  });

  test('the hold snapshots the price and the seat shows as unavailable', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const hold = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[2].id } }, { token });
    expect(hold.data?.holdSeat).toMatchObject({ amount: 30000, status: 'HELD', seat: { label: 'B1', event: { id: event.id } } });
    expect(hold.data?.holdSeat.merchantUid).toMatch(/^bk_\d{8}_[A-Za-z0-9_-]{16}$/);
    const expires = new Date(hold.data!.holdSeat.expiresAt).getTime();
    expect(expires - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(10 * 60_000);

    const view = await t.gql(EventDocument, { id: event.id });
    const availability = Object.fromEntries(view.data!.event!.seats.map((s) => [s.label, s.available]));
    expect(availability).toEqual({ A1: true, A2: true, B1: false });
  });

  test('a held seat is released by cancelReservation', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const hold = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token });
    const cancelled = await t.gql(CancelReservationDocument, { input: { reservationId: hold.data!.holdSeat.id } }, { token });
    expect(cancelled.data?.cancelReservation).toMatchObject({ status: 'CANCELLED' });
    expect(cancelled.data?.cancelReservation.cancelledAt).not.toBeNull();
    const again = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: await t.tokenFor('other') });
    expect(again.data?.holdSeat.status).toBe('HELD');
  });

  test('an unknown seat is NOT_FOUND and a malformed id names the field', async () => {
    const token = await t.tokenFor('buyer');
    const unknown = await t.gql(HoldSeatDocument, { input: { seatId: '00000000-0000-4000-8000-000000000000' } }, { token });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const malformed = await t.gql(HoldSeatDocument, { input: { seatId: 'seat-1' } }, { token });
    expect(malformed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(malformed.errors?.[0]?.message).toContain('seatId');
  });
});

describe('ownership', () => {
  test("a buyer can neither read nor cancel another buyer's reservation; an admin can read it", async () => {
    const event = await createEventViaApi(t);
    const alice = await t.tokenFor('alice');
    const mallory = await t.tokenFor('mallory');
    const hold = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: alice });
    const id = hold.data!.holdSeat.id;

    const read = await t.gql(ReservationDocument, { id }, { token: mallory });
    expect(read.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(read.data?.reservation ?? null).toBeNull();

    const cancel = await t.gql(CancelReservationDocument, { input: { reservationId: id } }, { token: mallory });
    expect(cancel.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const em = t.orm.em.fork();
    expect((await em.findOneOrFail(Reservation, id)).status).toBe(ReservationStatus.HELD);

    const mine = await t.gql(MyReservationsDocument, {}, { token: mallory });
    expect(mine.data?.myReservations).toEqual([]);
    const alices = await t.gql(MyReservationsDocument, {}, { token: alice });
    expect(alices.data?.myReservations.map((r) => r.id)).toEqual([id]);

    const asAdmin = await t.gql(ReservationDocument, { id }, { token: await t.tokenFor('root', ['admin']) });
    expect(asAdmin.data?.reservation?.id).toBe(id);
  });

  test('only an admin may create events', async () => {
    const buyer = await t.tokenFor('buyer');
    const result = await t.gql(
      `mutation { createEvent(input: { title: "x", startsAt: "2099-01-01T00:00:00Z", seats: [{ label: "A", price: 1000 }] }) { id } }`,
      {},
      { token: buyer },
    );
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
