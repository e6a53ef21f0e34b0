import { CreateEventDocument } from '../generated/graphql';
import type { TestApp } from './test-app';

export const ADMIN_ID = 'admin-1';

/** Creates an event through the public API, as the back office would. */
export async function createEventViaApi(
  t: TestApp,
  seats: Array<{ label: string; price: number }> = [
    { label: 'A1', price: 50000 },
    { label: 'A2', price: 50000 },
    { label: 'B1', price: 30000 },
  ],
  startsAt = new Date(Date.now() + 30 * 24 * 3600_000),
) {
  const token = await t.tokenFor(ADMIN_ID, ['admin']);
  const result = await t.gql(CreateEventDocument, { input: { title: 'Test concert', startsAt: startsAt.toISOString(), seats } }, { token });
  if (!result.data) throw new Error(`createEvent failed: ${JSON.stringify(result.errors)}`);
  return result.data.createEvent;
}
