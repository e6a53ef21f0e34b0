// Writes schema/schema.graphql from the code; commit the result (a test fails when it drifts).
import { writeFileSync } from 'node:fs';
import { emitSchemaSdl, SCHEMA_FILE } from '../src/graphql/schema-artifact';

emitSchemaSdl()
  .then((sdl) => {
    writeFileSync(SCHEMA_FILE, sdl);
    console.log(`wrote ${SCHEMA_FILE}`);
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
