import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildSchema, parse, validate, type GraphQLSchema } from 'graphql';

/** Changes from `baseline` to `current` that would break a client built against the baseline. */
export async function breakingChanges(baselineSdl: string, currentSdl: string): Promise<Change[]> {
  const changes = await diff(buildSchema(baselineSdl), buildSchema(currentSdl));
  return changes.filter((change) => change.criticality.level === CriticalityLevel.Breaking);
}

/** Validation errors of each client operation document against a schema; empty when all are valid. */
export function invalidOperations(schema: GraphQLSchema, documents: Array<{ name: string; source: string }>) {
  return documents
    .map(({ name, source }) => ({ name, errors: validate(schema, parse(source)).map((e) => e.message) }))
    .filter((result) => result.errors.length > 0);
}
