import { expectMember } from '../support/expect-member';

type Outcome = { __typename: 'PaymentConfirmed'; paymentId: string } | { __typename: 'PaymentRefunded'; reason: string };

describe('expectMember', () => {
  test('returns the member it asks for, narrowed: its own fields are readable without a cast', () => {
    const outcome: Outcome = { __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' };
    const refunded = expectMember(outcome as Outcome, 'PaymentRefunded');
    expect(refunded.reason).toBe('AMOUNT_MISMATCH');
  });

  test.each([
    [{ __typename: 'PaymentConfirmed', paymentId: 'imp_1' }, /expected a PaymentRefunded, got PaymentConfirmed: .*imp_1/],
    [null, /expected a PaymentRefunded, got null/],
    [undefined, /expected a PaymentRefunded, got undefined/],
  ] as Array<[Outcome | null | undefined, RegExp]>)('fails on another member or no result (%j), showing what came', (outcome, message) => {
    expect(() => expectMember(outcome, 'PaymentRefunded')).toThrow(message);
  });

  test('a typename that is no member of the union does not compile', () => {
    const outcome = { __typename: 'PaymentConfirmed', paymentId: 'imp_1' } as Outcome;
    // @ts-expect-error 'PaymentFailed' is not a member of Outcome
    expect(() => expectMember(outcome, 'PaymentFailed')).toThrow(/expected a PaymentFailed/);
  });
});
