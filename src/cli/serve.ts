// `jetstream serve <models>` (docs/operations.md, "CLI"): serves the scopes a module of models
// defines, on one port (WebSocket sync endpoint and HTTP probes), with a store, structured logs
// and graceful shutdown, so that an application needs no server code of its own.
import { createServer as createHttpServer } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Inspector } from '../inspector/inspector.js';
import { isModelClass, type ModelClass } from '../model/model-object.js';
import type { OpenScopeOptions } from '../persistence/types.js';
import { handleProbe } from '../server/probes.js';
import { createServer, type Server } from '../server/server.js';
import type { Store } from '../store/types.js';
import { processLogger } from './logger.js';
import { CliError } from './transfer.js';

export interface ServeOptions {
  /** Path of the module: CommonJS or ES module (.js, .cjs, .mjs; .ts when run under tsx). */
  models: string;
  port: number;
  host?: string;
  store: Store;
  /** `Name` (root: the module's model named Name) or `Name=Model`. */
  scopes: string[];
  env: Record<string, string | undefined>;
}

/** What a models module may export besides its model classes. */
interface ModelsModule {
  /** Scopes to open: `{name, root}` as server.openScope takes them. */
  scopes?: OpenScopeOptions[];
  [name: string]: unknown;
}

/**
 * A real dynamic import(): the package compiles to CommonJS, where TypeScript would turn
 * `import()` into require(), which cannot load an ES module.
 */
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

async function loadModule(path: string): Promise<ModelsModule> {
  const file = isAbsolute(path) ? path : resolve(path);
  let mod: Record<string, unknown>;
  try {
    mod = (await importModule(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(file))
      throw new CliError(`Cannot find the models module ${path}`);
    if (e.code === 'ERR_UNKNOWN_FILE_EXTENSION')
      throw new CliError(
        `Cannot load ${path}: compile it to JavaScript, or run the CLI with node --import tsx`,
      );
    throw err;
  }
  // A CommonJS module imported from ESM: its exports are `default` (and, often, named too).
  const cjs = mod.default;
  return (cjs !== null && typeof cjs === 'object' ? { ...(cjs as object), ...mod } : mod) as ModelsModule;
}

/** The model classes a module exports, by export name and by model name. */
function modelsOf(mod: ModelsModule): Map<string, ModelClass> {
  const found = new Map<string, ModelClass>();
  for (const [key, value] of Object.entries(mod)) {
    if (!isModelClass(value)) continue;
    found.set(key, value);
    found.set(value.typeName, value);
  }
  return found;
}

/** The scopes to open: the module's `scopes`, then one per `--scope`. */
function scopesToOpen(mod: ModelsModule, flags: string[], path: string): OpenScopeOptions[] {
  const scopes = [...(Array.isArray(mod.scopes) ? mod.scopes : [])];
  const models = modelsOf(mod);
  for (const flag of flags) {
    const [name, modelName = name] = flag.split('=');
    const Model = models.get(modelName!);
    if (!name || !Model) {
      const names = [...new Set([...models.values()].map((m) => m.typeName))];
      throw new CliError(
        `--scope ${flag}: ${path} exports no model named ${JSON.stringify(modelName)} (it exports: ${names.join(', ') || 'none'})`,
      );
    }
    scopes.push({ name, root: () => new Model() });
  }
  if (scopes.length === 0)
    throw new CliError(
      `Nothing to serve: pass --scope <Name> (a model of ${path}) or export \`scopes\` from it`,
    );
  return scopes;
}

/** Starts serving; resolves with a function that shuts it down gracefully. */
export async function serve(
  options: ServeOptions,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const mod = await loadModule(options.models);
  const scopes = scopesToOpen(mod, options.scopes, options.models);
  const logger = processLogger(options.env.LOG_LEVEL);
  let listening: Server | null = null;
  let inspector: Inspector | null = null;
  const http = createHttpServer((req, res) => {
    if (handleProbe(req, res, listening)) return;
    if (inspector?.handle(req, res)) return;
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Jetstream: connect a Jetstream client to this address over WebSocket.\n');
  });
  const redisUrl = options.env.REDIS_URL;
  const server = await createServer({
    server: http,
    store: options.store,
    logger,
    metrics: true,
    ...(redisUrl ? { cluster: { redis: redisUrl } } : {}),
  });
  try {
    for (const scope of scopes) await server.openScope(scope);
    await new Promise<void>((ok, fail) => {
      http.once('error', fail);
      http.listen(options.port, options.host, () => {
        http.off('error', fail);
        ok();
      });
    });
  } catch (err) {
    await server.close();
    await options.store.close();
    throw err;
  }
  listening = server;
  inspector = new Inspector(server, { token: options.env.JETSTREAM_ADMIN_TOKEN });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info(
    { port, store: options.store.kind, scopes: scopes.map((s) => s.name) },
    `Jetstream listening on ws://localhost:${port}/ (probes: /healthz, /readyz)`,
  );
  logger.info(`Inspector: ${inspector.url(`http://localhost:${port}`)}`);
  return {
    server,
    port,
    async close() {
      await server.close();
      await new Promise<void>((done) => http.close(() => done()));
      await options.store.close();
    },
  };
}
