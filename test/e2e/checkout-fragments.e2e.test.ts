import { CheckoutConfirmDocument, CheckoutHoldDocument, CheckoutReservationStatusDocument } from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { useTestApp } from '../support/test-app';

/**
 * The checkout's operations nest fragments four deep on both union members (test/operations/checkout.graphql).
 * Counted per spread they would be 9 deep against a limit of 8; counted as the flattened selection they
 * pass, and each union member resolves through them.
 */
const t = useTestApp({ startWorker: false });

async function holdAndPay(token: string, seatId: string, amountDelta: number) {
  const hold = await t.gql(CheckoutHoldDocument, { input: { seatId } }, { token });
  expect(hold.errors).toBeUndefined();
  const reservation = hold.data!.holdSeat;
  const impUid = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });
  return { reservation, impUid };
}

test('PaymentConfirmed through nested fragments', async () => {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('buyer');
  const { reservation, impUid } = await holdAndPay(token, event.seats[0].id, 0);
  const result = await t.gql(CheckoutConfirmDocument, { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } }, { token });
  expect(result.errors).toBeUndefined();
  expect(result.data?.confirmPayment).toMatchObject({
    __typename: 'PaymentConfirmed',
    paymentId: impUid,
    reservation: { id: reservation.id, status: 'CONFIRMED', seat: { id: event.seats[0].id, event: { id: event.id, title: event.title } }, refund: null },
  });
});

test('PaymentRefunded through nested fragments, and the reservation read back the same way', async () => {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('buyer');
  const { reservation, impUid } = await holdAndPay(token, event.seats[1].id, 1000);
  const result = await t.gql(CheckoutConfirmDocument, { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } }, { token });
  expect(result.errors).toBeUndefined();
  expect(result.data?.confirmPayment).toMatchObject({
    __typename: 'PaymentRefunded',
    reason: 'AMOUNT_MISMATCH',
    refund: { reason: 'AMOUNT_MISMATCH' },
    reservation: { id: reservation.id, seat: { event: { id: event.id } } },
  });
  const readBack = await t.gql(CheckoutReservationStatusDocument, { id: reservation.id }, { token });
  expect(readBack.errors).toBeUndefined();
  expect(readBack.data?.reservation?.refund?.reason).toBe('AMOUNT_MISMATCH');
});

test('the limits still hold for the flattened selection: nesting written inline past depth 8 is refused', async () => {
  const deep = `{ events { seats { event { seats { event { seats { event { seats { id } } } } } } } } }`;
  const viaFragments = `
    fragment S on Seat { event { ...E } }
    fragment E on Event { seats { ...S2 } }
    fragment S2 on Seat { event { seats { event { seats { id } } } } }
    { events { seats { ...S } } }`;
  for (const query of [deep, viaFragments]) {
    const result = await t.gql(query);
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/depth limit of 8 exceeded, found 9/);
  }
});
