import { findFreePort } from '../free-port';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres';

/**
 * PostgreSQL cannot bind port 0 and report the port it got, so a free port is picked first; another process
 * may take it before PostgreSQL binds it (initdb alone takes seconds). PostgreSQL then exits at start, and we
 * try again on a fresh port rather than fail the run.
 */
export async function startEmbeddedPostgresOnAnyPort(
  options: Omit<Parameters<typeof startEmbeddedPostgres>[0], 'port'>,
  attempts = 5,
  pickPort: () => Promise<number> = findFreePort,
): Promise<EmbeddedPostgresHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEmbeddedPostgres({ ...options, port: await pickPort() });
    } catch (error) {
      if (attempt >= attempts) throw error ?? new Error(`embedded PostgreSQL did not start after ${attempts} attempts`);
      options.log?.(`embedded PostgreSQL did not start (attempt ${attempt} of ${attempts}); trying another port`);
    }
  }
}
