import type { Target } from './environment';
import type { CallRequest, Classifier } from './measurement';

/** The calls the bench makes, shaped for each server: this server's GraphQL and the baseline's plain JSON routes. */

const RESERVATION_SELECTION = 'id merchantUid amount status';
const HOLD = `mutation HoldSeat($input: HoldSeatInput!) { holdSeat(input: $input) { ${RESERVATION_SELECTION} } }`;
const CONFIRM = `mutation ConfirmPayment($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { __typename
  ... on PaymentConfirmed { paymentId amount reservation { id status confirmedAt } }
  ... on PaymentRefunded { reason refund { id status amount } reservation { id status } } } }`;
const STATUSES = `query BookingStatuses($merchantUids: [String!]!) { bookingStatuses(merchantUids: $merchantUids) {
  merchantUid status amount paidAmount expiresAt confirmedAt cancelledAt
  refund { id amount reason status } seat { id label price } event { id title startsAt } } }`;

export const json = { 'content-type': 'application/json' };

export function holdRequest(target: Target, token: string, seatId: string): CallRequest {
  const headers = { ...json, authorization: `Bearer ${token}` };
  return target === 'app'
    ? { path: '/graphql', headers, body: JSON.stringify({ query: HOLD, variables: { input: { seatId } } }) }
    : { path: '/holdSeat', headers, body: JSON.stringify({ seatId }) };
}

export function confirmRequest(target: Target, hold: Hold, paymentId: string): CallRequest {
  const headers = { ...json, authorization: `Bearer ${hold.token}` };
  const input = { reservationId: hold.id, merchantUid: hold.merchantUid, paymentId };
  return target === 'app'
    ? { path: '/graphql', headers, body: JSON.stringify({ query: CONFIRM, variables: { input } }) }
    : { path: '/confirmPayment', headers, body: JSON.stringify(input) };
}

export function statusesRequest(target: Target, apiKey: string, merchantUids: string[]): CallRequest {
  const headers = { ...json, 'x-api-key': apiKey };
  return target === 'app'
    ? { path: '/graphql', headers, body: JSON.stringify({ query: STATUSES, variables: { merchantUids } }) }
    : { path: '/bookingStatuses', headers, body: JSON.stringify({ merchantUids }) };
}

/** The payload of a response to one of the calls above, whichever server answered. */
function payload(body: string): { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> } {
  try {
    return JSON.parse(body) as never;
  } catch {
    return {};
  }
}

export const classify: Classifier = (status, body) => {
  if (status >= 500) return '5xx';
  const parsed = payload(body);
  if (parsed.errors?.length) return parsed.errors[0].extensions?.code ?? `HTTP ${status}`;
  const data = parsed.data ? (Object.values(parsed.data)[0] ?? parsed.data) : null;
  if (Array.isArray(data)) return `${data.length} rows`;
  const record = data as { __typename?: string; status?: string } | null;
  return record?.__typename ?? record?.status ?? `HTTP ${status}`;
};

export interface Hold {
  id: string;
  merchantUid: string;
  amount: number;
  token: string;
}

export function holdFromBody(body: string): Omit<Hold, 'token'> | null {
  const parsed = payload(body);
  const hold = (parsed.data as { holdSeat?: Hold } | null | undefined)?.holdSeat;
  return hold?.id ? { id: hold.id, merchantUid: hold.merchantUid, amount: hold.amount } : null;
}
