import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, Kind, visit, type DocumentNode, type ValueNode } from 'graphql';
import { AppError } from '../errors';

const NUL = '\u0000';

/**
 * Refuses any string argument or variable that contains U+0000 before a resolver runs. PostgreSQL
 * cannot store it in text, so further in it would surface as an internal error (or a lost audit row)
 * instead of the client's own mistake.
 */
export function nulCharacterGuard(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const field = nulInVariables(request.variables) ?? nulInLiterals(document);
          if (field !== null) {
            throw new AppError('BAD_USER_INPUT', `${field}: must not contain the NUL character (U+0000)`, {
              field,
              http: { status: 400 },
            });
          }
        },
      };
    },
  };
}

function nulInVariables(variables: Record<string, unknown> | undefined): string | null {
  for (const [name, value] of Object.entries(variables ?? {})) {
    const found = nulInJson(value, `$${name}`);
    if (found !== null) return found;
  }
  return null;
}

/** No input type of ours nests this deep; a deeper variable is refused rather than walked. */
const MAX_VARIABLE_DEPTH = 32;

function nulInJson(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes(NUL) ? path : null;
  if (depth > MAX_VARIABLE_DEPTH && value !== null && typeof value === 'object') {
    throw new AppError('BAD_USER_INPUT', `${path}: nested more than ${MAX_VARIABLE_DEPTH} levels deep`, {
      field: path,
      http: { status: 400 },
    });
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulInJson(value[i], `${path}[${i}]`, depth + 1);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key.includes(NUL)) return path;
      const found = nulInJson(inner, `${path}.${key}`, depth + 1);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Apollo hands over the same parsed document for every request of one query text (its document cache),
 * so a document's literals are checked once, not on every call.
 */
const literalsChecked = new WeakMap<DocumentNode, string | null>();

function nulInLiterals(document: DocumentNode): string | null {
  let found = literalsChecked.get(document);
  if (found === undefined) {
    found = findNulInLiterals(document);
    literalsChecked.set(document, found);
  }
  return found;
}

function findNulInLiterals(document: DocumentNode): string | null {
  let found: string | null = null;
  visit(document, {
    Argument(node) {
      found = nulInValueNode(node.value, node.name.value);
      return found === null ? undefined : BREAK;
    },
    VariableDefinition(node) {
      found = node.defaultValue ? nulInValueNode(node.defaultValue, `$${node.variable.name.value}`) : null;
      return found === null ? undefined : BREAK;
    },
  });
  return found;
}

function nulInValueNode(node: ValueNode, path: string): string | null {
  switch (node.kind) {
    case Kind.STRING:
      return node.value.includes(NUL) ? path : null;
    case Kind.LIST:
      for (let i = 0; i < node.values.length; i++) {
        const found = nulInValueNode(node.values[i], `${path}[${i}]`);
        if (found !== null) return found;
      }
      return null;
    case Kind.OBJECT:
      for (const field of node.fields) {
        const found = nulInValueNode(field.value, `${path}.${field.name.value}`);
        if (found !== null) return found;
      }
      return null;
    default:
      return null;
  }
}
