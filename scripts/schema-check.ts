/**
 * `npm run schema:check`: fails when the schema the code emits would break clients built against the
 * committed baseline (schema/baseline.graphql). To ship a breaking change deliberately, update the
 * baseline with `npm run schema:check -- --update-baseline` and say why in the commit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { breakingChanges } from '../src/graphql/schema-compatibility';
import { emitSchemaSdl } from '../src/graphql/schema-artifact';

const BASELINE = resolve(process.cwd(), 'schema/baseline.graphql');

async function main(): Promise<void> {
  const current = await emitSchemaSdl();
  if (process.argv.includes('--update-baseline')) {
    writeFileSync(BASELINE, current);
    console.log(`baseline updated: ${BASELINE}`);
    return;
  }
  const breaking = await breakingChanges(readFileSync(BASELINE, 'utf8'), current);
  if (breaking.length === 0) {
    console.log('schema:check: no breaking changes against schema/baseline.graphql');
    return;
  }
  console.error(`schema:check: ${breaking.length} breaking change(s) against schema/baseline.graphql:`);
  for (const change of breaking) console.error(`  - ${change.message}`);
  process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
