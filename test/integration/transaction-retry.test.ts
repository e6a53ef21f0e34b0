import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { transactionalWithRetry } from '../../src/db/transaction-retry';
import { testDatabaseUrl, useTestDatabase } from '../support/test-database';
import { waitFor } from '../support/wait';

/**
 * transactionalWithRetry against real PostgreSQL aborts: a deadlock (40P01) made by two connections
 * locking two rows in opposite order, and a serialization failure (40001) made by a concurrent update
 * under SERIALIZABLE. The transaction that PostgreSQL aborted runs once more, from the start, and
 * commits; a second abort in a row is the caller's (never a third run); any other error is never retried.
 *
 * The rows are two events (any table would do). The other side is a plain pg client, outside the ORM.
 */
const orm = useTestDatabase();
let other: Client;

beforeEach(async () => {
  other = new Client({ connectionString: testDatabaseUrl() });
  await other.connect();
});
afterEach(async () => {
  await other.query('rollback').catch(() => undefined);
  await other.end();
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function twoRows(): Promise<[string, string]> {
  const ids: [string, string] = [randomUUID(), randomUUID()];
  for (const id of ids) {
    await orm.em.getConnection().execute(`insert into event (id, title, starts_at, created_at) values (?, 'untouched', now(), now())`, [id]);
  }
  return ids;
}

async function titles(ids: string[]): Promise<string[]> {
  const rows: Array<{ id: string; title: string }> = await orm.em.getConnection().execute('select id, title from event where id = any(array[?]::uuid[])', [ids]);
  return ids.map((id) => rows.find((r) => r.id === id)!.title);
}

/** Some session of this database waits for a row lock (the retried transaction, here). */
async function someoneWaitsForALock(): Promise<void> {
  await waitFor(async () => {
    const rows: Array<{ n: number }> = await orm.em
      .getConnection()
      .execute(`select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid where not l.granted and a.datname = current_database()`);
    return rows[0].n > 0;
  }, 10_000, 20);
}

/**
 * The other side of a deadlock: once the retried transaction holds `first`, this session locks `second`
 * and then asks for `first`, after the retried transaction is already waiting for `second`. Its own
 * deadlock check comes last (deadlock_timeout), so PostgreSQL aborts the retried transaction, not this.
 */
async function deadlockWith(retriedHoldsFirst: Promise<void>, first: string, second: string, otherHoldsSecond: () => void): Promise<void> {
  await retriedHoldsFirst;
  await other.query('begin');
  await other.query(`set local deadlock_timeout = '10s'`);
  await other.query(`update event set title = 'other side' where id = $1`, [second]);
  otherHoldsSecond();
  await someoneWaitsForALock();
  await other.query(`update event set title = 'other side' where id = $1`, [first]);
  await other.query('commit');
}

describe('a deadlock (40P01)', () => {
  test('the victim is run once more, from the start, and commits', async () => {
    const [a, b] = await twoRows();
    const victimHoldsA = deferred();
    const otherHoldsB = deferred();
    let runs = 0;
    const otherSide = deadlockWith(victimHoldsA.promise, a, b, otherHoldsB.resolve);

    const result = await transactionalWithRetry(orm.em, async (tx) => {
      runs += 1;
      await tx.execute(`update event set title = ? where id = ?`, [`run ${runs}`, a]);
      if (runs === 1) {
        victimHoldsA.resolve();
        await otherHoldsB.promise;
      }
      await tx.execute(`update event set title = ? where id = ?`, [`run ${runs}`, b]);
      return runs;
    });
    await otherSide;

    expect(result).toBe(2);
    // The first run's writes were rolled back with it; the second run committed after the other side.
    expect(await titles([a, b])).toEqual(['run 2', 'run 2']);
  });

  test('a second deadlock in a row is thrown to the caller, after exactly two runs', async () => {
    const [a, b] = await twoRows();
    const holds = [deferred(), deferred()];
    const otherHolds = [deferred(), deferred()];
    let runs = 0;
    // The other side deadlocks the first run, commits, and deadlocks the second run the same way.
    const otherSide = (async () => {
      await deadlockWith(holds[0].promise, a, b, otherHolds[0].resolve);
      await deadlockWith(holds[1].promise, a, b, otherHolds[1].resolve);
    })();

    const outcome = transactionalWithRetry(orm.em, async (tx) => {
      const run = runs++;
      await tx.execute(`update event set title = ? where id = ?`, [`run ${runs}`, a]);
      holds[run].resolve();
      await otherHolds[run].promise;
      await tx.execute(`update event set title = ? where id = ?`, [`run ${runs}`, b]);
    });
    await expect(outcome).rejects.toMatchObject({ code: '40P01' });
    expect(runs).toBe(2);
    await otherSide;
    expect(await titles([a, b])).toEqual(['other side', 'other side']);
  });
});

describe('a serialization failure (40001)', () => {
  /** One run that reads `id` under SERIALIZABLE, lets `meanwhile` commit a change to it, then writes it. */
  async function readThenWrite(tx: Parameters<Parameters<typeof transactionalWithRetry>[1]>[0], id: string, label: string, meanwhile?: () => Promise<unknown>) {
    await tx.execute('set transaction isolation level serializable');
    await tx.execute('select title from event where id = ?', [id]); // the snapshot is taken here
    await meanwhile?.();
    await tx.execute(`update event set title = ? where id = ?`, [label, id]);
  }

  test('a SERIALIZABLE transaction that lost to a concurrent update is run once more and commits', async () => {
    const [a] = await twoRows();
    let runs = 0;
    const result = await transactionalWithRetry(orm.em, async (tx) => {
      runs += 1;
      const concurrentUpdate = runs === 1 ? () => other.query(`update event set title = 'other side' where id = $1`, [a]) : undefined;
      await readThenWrite(tx, a, `run ${runs}`, concurrentUpdate);
      return runs;
    });

    expect(result).toBe(2);
    expect(await titles([a])).toEqual(['run 2']);
  });

  test('a second serialization failure in a row is thrown to the caller, after exactly two runs', async () => {
    const [a] = await twoRows();
    let runs = 0;
    const outcome = transactionalWithRetry(orm.em, async (tx) => {
      runs += 1;
      await readThenWrite(tx, a, `run ${runs}`, () => other.query(`update event set title = $2 where id = $1`, [a, `other side ${runs}`]));
    });

    await expect(outcome).rejects.toMatchObject({ code: '40001' });
    expect(runs).toBe(2);
    expect(await titles([a])).toEqual(['other side 2']);
  });
});

test('any other failure is thrown at once, never retried', async () => {
  const [a] = await twoRows();
  let runs = 0;
  const outcome = transactionalWithRetry(orm.em, async (tx) => {
    runs += 1;
    await tx.execute(`update event set title = ? where id = ?`, [`run ${runs}`, a]);
    await tx.execute(`insert into event (id, title, starts_at, created_at) values (?, 'duplicate', now(), now())`, [a]);
  });

  await expect(outcome).rejects.toMatchObject({ code: '23505' });
  expect(runs).toBe(1);
  expect(await titles([a])).toEqual(['untouched']);
});
