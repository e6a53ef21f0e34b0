/**
 * Asserts that a GraphQL union result is the member `typename` and returns it narrowed to that member,
 * so a test reads the member's own fields without a cast or an `if (… !== …) throw` of its own. Fails
 * the test with the whole result when it is absent or another member (Vendure's e2e result guard).
 *
 *   const refunded = expectMember(result.data?.confirmPayment, 'PaymentRefunded');
 *   expect(refunded.refund.status).toBe('PENDING');
 */
export function expectMember<T extends { __typename: string }, K extends T['__typename']>(
  result: T | null | undefined,
  typename: K,
): Extract<T, { __typename: K }> {
  if (!result || result.__typename !== typename) {
    throw new Error(`expected a ${typename}, got ${result ? result.__typename : String(result)}: ${JSON.stringify(result)}`);
  }
  return result as Extract<T, { __typename: K }>;
}
