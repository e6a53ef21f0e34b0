import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv-draft-04';

/**
 * Validates simulator responses against PortOne's official V1 Swagger, kept in the repository
 * (test/fixtures/portone/, source noted in its README). Swagger 2.0 cannot say "nullable", yet PortOne sends
 * null for unset fields (see the response examples at https://developers.portone.io/api/rest-v1), so every
 * property also accepts null; everything else (field names, types, required fields) is checked as given.
 */
const spec = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'portone', 'v1.openapi.json'), 'utf8'));

const NUMERIC_KEYWORDS = new Set(['maxLength', 'minLength', 'maximum', 'minimum', 'maxItems', 'minItems']);

function allowNull(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowNull);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-') || key === 'example' || key === 'default') continue;
    // The spec writes some numeric limits as strings ("maxLength": "40").
    if (NUMERIC_KEYWORDS.has(key) && typeof value === 'string') {
      out[key] = Number(value);
      continue;
    }
    out[key] = key === 'properties' && value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([name, prop]) => [name, nullable(allowNull(prop))]))
      : allowNull(value);
  }
  return out;
}

function nullable(schema: unknown): unknown {
  const s = schema as Record<string, unknown>;
  if (typeof s.type === 'string') return { ...s, type: [s.type, 'null'] };
  if (s.$ref) return { anyOf: [{ $ref: s.$ref }, { type: 'null' }] };
  return s;
}

const ajv = new Ajv({ strict: false, allErrors: true });
const definitions = allowNull(spec.definitions) as Record<string, unknown>;

/** The schema PortOne documents for `method path` answering `status`. */
export function responseValidator(method: 'get' | 'post' | 'put', path: string, status = '200') {
  const schema = spec.paths[path]?.[method]?.responses?.[status]?.schema;
  if (!schema) throw new Error(`v1.openapi.json documents no ${status} schema for ${method.toUpperCase()} ${path}`);
  const validate = ajv.compile({ definitions, ...(allowNull({ properties: { x: schema } }) as { properties: { x: object } }).properties.x });
  return (body: unknown): string[] => (validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}

export function definitionValidator(name: string) {
  const validate = ajv.compile({ definitions, $ref: `#/definitions/${name}` });
  return (body: unknown): string[] => (validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}
