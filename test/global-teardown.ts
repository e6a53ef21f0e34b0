import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const run = globalThis as { __EMBEDDED_PG__?: { stop(): Promise<void> }; __EMBEDDED_PG_DIR__?: string };
  await run.__EMBEDDED_PG__?.stop();
  // The cluster's own data is gone with persistent:false; its temporary parent folder goes too.
  if (run.__EMBEDDED_PG_DIR__) rmSync(run.__EMBEDDED_PG_DIR__, { recursive: true, force: true });
}
