import { ConnectionException, DeadlockException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

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
