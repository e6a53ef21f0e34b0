import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, holdSeatAs, refundRowsOf, reservationRow, type SimulatorControl, simulatorControl } from '../../support/money-holes';
import { useTestApp } from '../../support/test-app';

/**
 * The decision of a paid payment, aborted by PostgreSQL as a deadlock victim (40P01) or for a
 * serialization failure (40001), is run once more before anything else: the payment is confirmed, not
 * refunded INTERNAL_ERROR. A second abort in a row is not retried again: then the failure path decides
 * (an INTERNAL_ERROR refund), as for any failed decision.
 *
 * The aborts come from PostgreSQL itself: a trigger on the decision's insert raises the SQLSTATE for the
 * first `n` inserts (a sequence counts them across rollbacks). A buyer confirming their own hold first
 * tries the one-statement confirmation, which falls back to the locking transaction on any such error:
 * that is the first insert; the locking transaction's runs are the next ones.
 */
const t = useTestApp({}, { afterEachTest: (app) => expectMoneyInvariants(app) });
let sim: SimulatorControl;

beforeAll(() => {
  sim = simulatorControl(t.simulator.url);
});
afterEach(async () => {
  await t.orm.em.getConnection().execute('drop function if exists decision_abort_probe() cascade; drop sequence if exists decision_abort_probe_inserts');
});

async function abortDecisionInserts(sqlState: string, n: number): Promise<void> {
  await t.orm.em.getConnection().execute(`
    create sequence decision_abort_probe_inserts;
    create function decision_abort_probe() returns trigger language plpgsql as $$
    begin
      if nextval('decision_abort_probe_inserts') <= ${n} then
        raise exception 'aborted by the test (SQLSTATE ${sqlState})' using errcode = '${sqlState}';
      end if;
      return new;
    end $$;
    create trigger decision_abort_probe before insert on payment for each row execute function decision_abort_probe();`);
}

async function decisionInserts(): Promise<number> {
  const [row]: Array<{ last_value: string }> = await t.orm.em.getConnection().execute('select last_value from decision_abort_probe_inserts');
  return Number(row.last_value);
}

async function paidHold(buyer: string) {
  const event = await createEventViaApi(t);
  const { token, reservation } = await holdSeatAs(t, buyer, event.seats[0].id);
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  return { token, reservation, payment };
}

describe.each([
  ['40P01', 'deadlock_detected'],
  ['40001', 'serialization_failure'],
])('the decision aborted with %s (%s)', (sqlState) => {
  test('once: the locking transaction runs again and the payment is confirmed, nothing refunded', async () => {
    const { token, reservation, payment } = await paidHold(`aborted-once-${sqlState}`);
    await abortDecisionInserts(sqlState, 2); // the one-statement confirmation, then the locking transaction's first run

    const result = await confirmAs(t, token, reservation, payment.imp_uid);

    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentConfirmed', reservation: { id: reservation.id, status: 'CONFIRMED' } });
    expect(await decisionInserts()).toBe(3);
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([]);
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
  });

  test('twice in a row: not retried again; the failure path refunds it INTERNAL_ERROR', async () => {
    const { token, reservation, payment } = await paidHold(`aborted-twice-${sqlState}`);
    await abortDecisionInserts(sqlState, 3); // the one-statement confirmation and both runs of the locking transaction

    const result = await confirmAs(t, token, reservation, payment.imp_uid);

    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'INTERNAL_ERROR' });
    // Two runs of the decision, then the INTERNAL_ERROR decision's own insert: no third run.
    expect(await decisionInserts()).toBe(4);
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ reason: 'INTERNAL_ERROR', status: 'SUCCEEDED', amount: reservation.amount })]);
  });
});
