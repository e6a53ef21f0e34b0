import { ConnectionException, DeadlockException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * The server's one lock order. Every transaction takes the row locks it needs in this order, skipping
 * those it does not need, and never asks for one ranked before a lock it already holds, so no two
 * transactions can wait on each other in a cycle:
 *
 *   seat → the buyer's hold-limit advisory lock → reservation → payment → refund → the refund's queued job
 *
 * - holdSeat and every decision lock the seat, then the reservation (each in one statement: holdSeat's
 *   locking select, settlement-records' materialized CTE). Other reservations of a seat (stale holds a
 *   hold or a decision ends) are written only under that seat's lock.
 * - payment rows are only inserted, by a decision, after its reservation lock and before its refund row.
 * - Whatever writes a reservation and its refund locks the reservation first: the buyer's cancel, the
 *   external cancel, and, for a refund that ends its booking, an admin's retry and marking it done when
 *   PortOne shows the payment cancelled (RefundService reads the refund's reservation unlocked first).
 * - A refund's job is added or removed only once the refund is locked (or new): a refund attempt's claim
 *   and record lock the refund alone, then the job.
 * - Transactions that lock one row (cancelling a hold) cannot close a cycle, nor can the sweep's
 *   one-statement expiry of HELD rows: nothing that holds a HELD reservation waits for another one.
 *
 * PostgreSQL may still abort a transaction as a deadlock victim or for a serialization failure (locks it
 * takes on its own, a future path that breaks the order): `transactionalWithRetry` repeats it once.
 */

const RETRYABLE_SQLSTATE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const CONNECTION_SQLSTATE = /^(08|57P0)/; // connection exceptions; admin/crash shutdown

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The database connection failed while a statement (possibly COMMIT) was in flight: whether the
 * transaction committed is unknown, so nothing may act as if it had not.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof ConnectionException) return true;
  const code = sqlState(error);
  if (code && CONNECTION_SQLSTATE.test(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE|connection is closed|Client has encountered a connection error/i.test(message);
}

/**
 * Runs `work` in a transaction on a fresh fork, and once more if PostgreSQL aborted it as a deadlock
 * victim or for a serialization failure: both are rolled back in full and safe to repeat. Anything
 * else propagates.
 */
export async function transactionalWithRetry<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  try {
    return await em.fork().transactional(work);
  } catch (error) {
    if (!(error instanceof DeadlockException) && !RETRYABLE_SQLSTATE.has(sqlState(error) ?? '')) throw error;
    return em.fork().transactional(work);
  }
}
