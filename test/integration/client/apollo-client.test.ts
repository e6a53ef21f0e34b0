import { readFileSync } from 'node:fs';
import { ApolloClient, HttpLink, InMemoryCache, type PossibleTypesMap } from '@apollo/client';
import { CheckoutConfirmDocument, CheckoutHoldDocument, CheckoutReservationStatusDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { useTestApp } from '../../support/test-app';

/**
 * The whole checkout through Apollo Client 4 and InMemoryCache, with the operations a React app writes
 * (a fragment on the union, nested fragments on both members): with the shipped schema/possible-types.json
 * every field arrives and Apollo logs nothing; without it, Apollo 4 silently drops the members' fields.
 */
const t = useTestApp({ startWorker: false });

const shipped = JSON.parse(readFileSync('schema/possible-types.json', 'utf8')) as { possibleTypes: PossibleTypesMap };

/** Runs hold → pay → confirm twice (kept, then refunded) and reads both back; returns what Apollo logged. */
async function checkoutWith(
  possibleTypes: PossibleTypesMap | undefined,
): Promise<{ logged: string[]; typenames: string[]; outcomes: unknown[]; cachedStatuses: unknown[] }> {
  const logged: string[] = [];
  const spies = (['warn', 'error', 'log', 'debug'] as const).map((level) =>
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(`${level}: ${args.map(String).join(' ')}`);
    }),
  );
  try {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const client = new ApolloClient({
      link: new HttpLink({ uri: t.url, headers: { authorization: `Bearer ${token}` } }),
      cache: new InMemoryCache({ possibleTypes }),
    });
    const typenames: string[] = [];
    const outcomes: unknown[] = [];
    const cachedStatuses: unknown[] = [];
    for (const [seat, amountDelta] of [[event.seats[0], 0], [event.seats[1], 700]] as const) {
      const hold = await client.mutate({ mutation: CheckoutHoldDocument, variables: { input: { seatId: seat.id } } });
      const reservation = hold.data!.holdSeat;
      const impUid = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });
      const confirmed = await client.mutate({
        mutation: CheckoutConfirmDocument,
        variables: { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } },
      });
      typenames.push(confirmed.data!.confirmPayment.__typename);
      outcomes.push(confirmed.data!.confirmPayment);
      // What a component showing the reservation re-renders with, straight from the cache after the mutation.
      cachedStatuses.push((client.cache.extract() as Record<string, { status?: string }>)[`Reservation:${reservation.id}`]?.status);
      const read = await client.query({ query: CheckoutReservationStatusDocument, variables: { id: reservation.id }, fetchPolicy: 'network-only' });
      expect(read.data?.reservation?.id).toBe(reservation.id);
    }
    return { logged, typenames, outcomes, cachedStatuses };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

test('with the shipped possibleTypes: both union members arrive whole, the cache follows, and nothing is logged', async () => {
  expect(shipped.possibleTypes.ConfirmPaymentResult).toEqual(expect.arrayContaining(['PaymentConfirmed', 'PaymentRefunded']));
  const { logged, typenames, outcomes, cachedStatuses } = await checkoutWith(shipped.possibleTypes);
  expect(typenames).toEqual(['PaymentConfirmed', 'PaymentRefunded']);
  expect(outcomes).toEqual([
    expect.objectContaining({ paymentId: expect.any(String), reservation: expect.objectContaining({ status: 'CONFIRMED' }) }),
    expect.objectContaining({ reason: 'AMOUNT_MISMATCH', refund: expect.objectContaining({ status: expect.any(String) }) }),
  ]);
  expect(cachedStatuses[0]).toBe('CONFIRMED');
  expect(logged).toEqual([]);
});

test('without them the members\' fields are lost (so the test above can tell)', async () => {
  const { typenames, outcomes, cachedStatuses } = await checkoutWith(undefined);
  expect(typenames).toEqual(['PaymentConfirmed', 'PaymentRefunded']);
  expect(outcomes).toEqual([{ __typename: 'PaymentConfirmed' }, { __typename: 'PaymentRefunded' }]);
  expect(cachedStatuses[0]).toBe('HELD');
});
