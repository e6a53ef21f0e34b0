import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';

/**
 * Validates simulator answers against PortOne's official V2 OpenAPI, as copied into
 * test/fixtures/portone/v2-openapi.subset.json (source and commit in its `x-source`).
 *
 * Two adaptations, both stricter than the document: a `oneOf` with a `discriminator` is checked against
 * the case its discriminator names (the cases' `status`/`type` fields are plain strings, so a bare oneOf
 * would match several); and objects accept only the properties the OpenAPI lists, so a misspelt field
 * in the simulator fails instead of passing as "extra".
 */
const spec = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'portone', 'v2-openapi.subset.json'), 'utf8')) as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema: object } } }> }>>;
  components: { schemas: Record<string, unknown> };
};

function adapt(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(adapt);
  if (!node || typeof node !== 'object') return node;
  const schema = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-') || key === 'discriminator' || key === 'example') continue;
    out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, adapt(v)])) : adapt(value);
  }
  const discriminator = schema.discriminator as { propertyName: string; mapping: Record<string, string> } | undefined;
  if (discriminator && Array.isArray(schema.oneOf)) {
    const prop = discriminator.propertyName;
    delete out.oneOf;
    out.type = 'object';
    out.required = [prop];
    out.properties = { [prop]: { enum: Object.keys(discriminator.mapping) } };
    out.allOf = Object.entries(discriminator.mapping).map(([value, ref]) => ({
      if: { properties: { [prop]: { const: value } }, required: [prop] },
      then: { $ref: ref },
    }));
  } else if (schema.type === 'object' && schema.properties) {
    out.additionalProperties = false;
  }
  return out;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('date-time', RFC3339);
ajv.addFormat('int32', true);
ajv.addFormat('int64', true);
ajv.addSchema({ $id: 'portone-v2', components: { schemas: adapt(spec.components.schemas) } });

const cache = new Map<string, ValidateFunction>();
function compile(ref: string): ValidateFunction {
  let validate = cache.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: `portone-v2${ref}` });
    cache.set(ref, validate);
  }
  return validate;
}

function errorsOf(validate: ValidateFunction, body: unknown): string[] {
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

/** The schema PortOne documents for `method path` answering `status`; returns the violations. */
export function v2ResponseValidator(method: 'get' | 'post', path: string, status: number) {
  const schema = spec.paths[path]?.[method]?.responses?.[String(status)]?.content?.['application/json']?.schema as { $ref?: string } | undefined;
  if (!schema?.$ref) throw new Error(`v2 OpenAPI subset documents no ${status} JSON schema for ${method.toUpperCase()} ${path}`);
  const validate = compile(schema.$ref);
  return (body: unknown): string[] => errorsOf(validate, body);
}

/** Validates against one named component schema (e.g. `Payment`, `CancelPaymentBody`). */
export function v2SchemaValidator(name: string) {
  if (!spec.components.schemas[name]) throw new Error(`v2 OpenAPI subset has no schema ${name}`);
  const validate = compile(`#/components/schemas/${name}`);
  return (body: unknown): string[] => errorsOf(validate, body);
}

/** The HTTP status PortOne documents for an error `type` of an operation's error union (x-portone-status-code). */
export function v2ErrorStatus(errorUnion: string, type: string): number {
  const union = spec.components.schemas[errorUnion] as { discriminator: { mapping: Record<string, string> } };
  const ref = union.discriminator.mapping[type];
  if (!ref) throw new Error(`${errorUnion} has no error type ${type}`);
  const target = spec.components.schemas[ref.replace('#/components/schemas/', '')] as { 'x-portone-status-code': number };
  return target['x-portone-status-code'];
}
