// Validates the emulator's traffic against GitHub's official OpenAPI description (issue 3, part 3): every request
// Tether sends and every answer the emulator gives must fit `api.github.com`, so the emulator cannot drift into a
// GitHub that does not exist.
//
// The dereferenced description is ~73 MB of JSON and compiling all of it costs ~260 MB, so it is parsed once per
// process, pruned to the operations the emulator serves, and each schema is compiled on first use.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { TetherError } from '../../../shared/src/errors.ts';

// ajv-formats is CommonJS; under NodeNext its default import is typed as the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Something the emulator's traffic did that GitHub's description does not allow. */
export interface Violation {
  /** `request`: the client sent what GitHub would refuse; `response`: the emulator answered what GitHub never
   * would; `webhook`: a delivered payload does not fit; `unimplemented`: the client called an endpoint the emulator
   * does not serve. */
  kind: 'request' | 'response' | 'webhook' | 'unimplemented';
  /** `METHOD /path/template` (or the webhook event name). */
  operation: string;
  status?: number;
  errors: string[];
}

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: unknown }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  externalDocs?: { url?: string };
}

interface PrunedSpec {
  operations: Map<string, Operation>;
  webhooks: Map<string, unknown>;
}

/** Options of `OpenApiValidator.load`. */
export interface OpenApiLoadOptions {
  /** The dereferenced description; default `@octokit/openapi`'s `generated/api.github.com.deref.json`. */
  specPath?: string;
  /** Operations to keep, as `METHOD /path/template`; default all (costs far more memory). */
  operations?: readonly string[];
  /** Webhook events to keep (`push`, `ping`); default all. */
  webhooks?: readonly string[];
}

// The description uses formats Ajv does not know; they carry no constraint worth checking here.
const LOOSE_FORMATS = ['int32', 'int64', 'double', 'timestamp', 'repo.nwo', 'binary'];

// GitHub's generic error body, used for statuses an operation does not list (401, 500, …), which GitHub answers on
// any endpoint.
const BASIC_ERROR = {
  type: 'object',
  required: ['message'],
  properties: { message: { type: 'string' }, documentation_url: { type: 'string' }, status: { type: 'string' } },
};

/** The validator over a (pruned) GitHub OpenAPI description; schemas compile lazily and are cached. */
export class OpenApiValidator {
  readonly #spec: PrunedSpec;
  readonly #ajv: Ajv;
  // Query and path parameters arrive as strings; this instance coerces them to the declared types.
  readonly #paramsAjv: Ajv;
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #shared = new Set<string>();

  private constructor(spec: PrunedSpec) {
    this.#spec = spec;
    this.#ajv = newAjv(false);
    this.#paramsAjv = newAjv(true);
  }

  /** Reads and prunes the description. Prefer `loadGitHubValidator`, which does it once per process. */
  static async load(options: OpenApiLoadOptions = {}): Promise<OpenApiValidator> {
    const path = options.specPath ?? defaultSpecPath();
    let raw: {
      paths?: Record<string, Record<string, Operation>>;
      'x-webhooks'?: Record<string, { post?: Operation }>;
    };
    try {
      raw = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      throw new TetherError('io', `${path}: cannot read the GitHub OpenAPI description`, { cause: err });
    }
    const keep = options.operations ? new Set(options.operations) : undefined;
    const operations = new Map<string, Operation>();
    for (const [template, item] of Object.entries(raw.paths ?? {})) {
      for (const [method, op] of Object.entries(item)) {
        const key = `${method.toUpperCase()} ${template}`;
        if (method === 'parameters' || (keep && !keep.has(key))) continue;
        operations.set(key, op);
      }
    }
    if (keep) {
      const missing = [...keep].filter((k) => !operations.has(k));
      if (missing.length > 0) throw new TetherError('internal', `not in GitHub's description: ${missing.join(', ')}`);
    }
    const keepHooks = options.webhooks ? new Set(options.webhooks) : undefined;
    const webhooks = new Map<string, unknown>();
    for (const [event, item] of Object.entries(raw['x-webhooks'] ?? {})) {
      if (keepHooks && !keepHooks.has(event)) continue;
      const schema = item.post?.requestBody?.content?.['application/json']?.schema;
      if (schema) webhooks.set(event, schema);
    }
    return new OpenApiValidator({ operations, webhooks });
  }

  /** Whether the description has `METHOD /path/template`. */
  has(operation: string): boolean {
    return this.#spec.operations.has(operation);
  }

  /** GitHub's documentation link for an operation. */
  documentationUrl(operation: string): string | undefined {
    return this.#spec.operations.get(operation)?.externalDocs?.url;
  }

  /** Errors in a request: path and query parameters (strings, coerced to declared types) and the JSON body. */
  validateRequest(
    operation: string,
    request: { params: Record<string, string>; query: Record<string, string>; body: unknown },
  ): string[] {
    const op = this.#op(operation);
    const errors: string[] = [];
    const paramsCheck = this.#compile(`${operation} params`, () => paramsSchema(op), true);
    const params = { ...request.query, ...request.params };
    if (!paramsCheck(params)) errors.push(...formatErrors(paramsCheck.errors, 'parameters'));
    const bodySchema = op.requestBody?.content?.['application/json']?.schema;
    if (request.body === undefined) {
      if (op.requestBody?.required) errors.push('body: a JSON body is required');
    } else if (bodySchema) {
      const bodyCheck = this.#compile(`${operation} body`, () => bodySchema);
      if (!bodyCheck(request.body)) errors.push(...formatErrors(bodyCheck.errors, 'body'));
    }
    return errors;
  }

  /** Errors in a response: the body must fit the schema documented for its status. */
  validateResponse(operation: string, status: number, body: unknown): string[] {
    const op = this.#op(operation);
    const documented = op.responses?.[String(status)] ?? op.responses?.['default'];
    if (!documented) {
      if (status >= 400) {
        const check = this.#compile('basic-error', () => BASIC_ERROR);
        return check(body) ? [] : formatErrors(check.errors, 'body');
      }
      return [`status ${status} is not documented for ${operation}`];
    }
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) {
      if (body === undefined) return [];
      // The description leaves out the body of many error answers, but GitHub always sends its error object.
      if (status >= 400) {
        const check = this.#compile('basic-error', () => BASIC_ERROR);
        return check(body) ? [] : formatErrors(check.errors, 'body');
      }
      return [`status ${status} of ${operation} has no body, but one was sent`];
    }
    if (body === undefined) return [`status ${status} of ${operation} needs a JSON body`];
    const check = this.#compile(`${operation} ${status}`, () => schema);
    return check(body) ? [] : formatErrors(check.errors, 'body');
  }

  /** Errors in a webhook payload of `event` (`push`, `ping`). */
  validateWebhook(event: string, payload: unknown): string[] {
    const schema = this.#spec.webhooks.get(event);
    if (!schema) return [`webhook event ${event} is not in GitHub's description`];
    const check = this.#compile(`webhook ${event}`, () => schema);
    return check(payload) ? [] : formatErrors(check.errors, 'payload');
  }

  /**
   * The dereferenced description repeats the same large subschemas (users, repositories) in every operation;
   * compiling each copy again made the first call of every endpoint cost half a second. Large subschemas are
   * registered once under an id derived from their content and replaced by a `$ref`, so Ajv compiles each once.
   */
  #share(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.#share(n));
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (DATA_KEYWORDS.has(k)) out[k] = v;
      else if (k === 'properties' && v && typeof v === 'object') {
        out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, this.#share(sub)]));
      } else out[k] = this.#share(v);
    }
    const text = JSON.stringify(out);
    if (text.length < SHARE_THRESHOLD || !isSchema(out)) return out;
    const id = `https://schemas.tether.invalid/${createHash('sha1').update(text).digest('hex')}`;
    if (!this.#shared.has(id)) {
      this.#ajv.addSchema({ ...out, $id: id });
      this.#shared.add(id);
    }
    return { $ref: id };
  }

  #op(operation: string): Operation {
    const op = this.#spec.operations.get(operation);
    if (!op) throw new TetherError('internal', `${operation} is not in the loaded GitHub description`);
    return op;
  }

  #compile(key: string, schema: () => unknown, coerce = false): ValidateFunction {
    let fn = this.#compiled.get(key);
    if (!fn) {
      fn = coerce
        ? this.#paramsAjv.compile(toJsonSchema(schema()) as object)
        : this.#ajv.compile(this.#share(toJsonSchema(schema())) as object);
      this.#compiled.set(key, fn);
    }
    return fn;
  }
}

const cache = new Map<string, Promise<OpenApiValidator>>();

/**
 * The validator for these operations, loaded once per process: every emulator of a test run shares it, so the
 * 73 MB description is parsed once.
 */
export function loadGitHubValidator(options: OpenApiLoadOptions = {}): Promise<OpenApiValidator> {
  const key = JSON.stringify([options.specPath, options.operations, options.webhooks]);
  let p = cache.get(key);
  if (!p) {
    p = OpenApiValidator.load(options);
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

/** Where `@octokit/openapi` keeps the dereferenced description of api.github.com. */
export function defaultSpecPath(): string {
  const require = createRequire(import.meta.url);
  // The package's entry lives at its root; the description sits next to it in `generated/`.
  const pkg = require.resolve('@octokit/openapi/package.json');
  return join(pkg, '..', 'generated', 'api.github.com.deref.json');
}

// Keywords whose values are data, not subschemas.
const DATA_KEYWORDS = new Set(['enum', 'example', 'examples', 'default', 'const', 'required', 'description']);
// Subschemas at least this long (as JSON) are compiled once and shared.
const SHARE_THRESHOLD = 1500;

function isSchema(node: Record<string, unknown>): boolean {
  return 'type' in node || 'properties' in node || 'oneOf' in node || 'anyOf' in node || 'allOf' in node;
}

function newAjv(coerceTypes: boolean): Ajv {
  // Ajv's code optimisation pass made compiling all the emulator's schemas take 1.7 s instead of 1.1 s, and each
  // validator here runs only a handful of times.
  const ajv = new Ajv({ strict: false, allErrors: true, code: { optimize: false }, coerceTypes, logger: false });
  addFormats(ajv);
  for (const f of LOOSE_FORMATS) ajv.addFormat(f, true);
  return ajv;
}

/**
 * OpenAPI 3.0's `nullable: true` as plain JSON Schema: Ajv accepts `nullable` only next to `type`, while GitHub's
 * description also puts it on `oneOf`/`allOf` schemas.
 */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'nullable') continue;
    // `properties` maps names to schemas; `enum`/`example(s)`/`default` hold data, not schemas.
    if (DATA_KEYWORDS.has(k)) out[k] = v;
    else if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, toJsonSchema(sub)]));
    } else out[k] = toJsonSchema(v);
  }
  if ((schema as { nullable?: unknown }).nullable !== true) return out;
  if (typeof out['type'] === 'string') {
    out['type'] = [out['type'], 'null'];
    if (Array.isArray(out['enum']) && !out['enum'].includes(null)) out['enum'] = [...out['enum'], null];
    return out;
  }
  return { anyOf: [out, { type: 'null' }] };
}

function paramsSchema(op: Operation): object {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const p of op.parameters ?? []) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    properties[p.name] = p.schema ?? {};
    if (p.required) required.push(p.name);
  }
  // Unknown query parameters are ignored by GitHub, so they are allowed here too.
  return { type: 'object', properties, required };
}

function formatErrors(errors: ErrorObject[] | null | undefined, where: string): string[] {
  const list = (errors ?? []).map((e) => {
    const params = Object.entries(e.params ?? {})
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${where}${e.instancePath || ''}: ${e.message ?? e.keyword}${params ? ` (${params})` : ''}`;
  });
  // `oneOf`/`anyOf` failures list every branch; the first dozen are enough to see what went wrong.
  return list.length > 12 ? [...list.slice(0, 12), `… and ${list.length - 12} more`] : list;
}
