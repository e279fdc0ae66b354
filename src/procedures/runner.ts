// The procedures' step of the changeset pipeline (docs/protocol.md §9): resolves `Model.name`
// among the scope's classes, checks the changeset against the procedure's constraints, runs its
// remote step, and logs what the client must not see (a downstream's address and status).
import type { ProcedureStep } from '../pipeline/pipeline.js';
import type { Scope } from '../scope/scope.js';
import type { Fragment, ListBase } from '../scope/types.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { DownstreamError } from './http.js';
import { resolveProcedure } from './procedure.js';
import type { ProcedureUpdate } from './types.js';

/** A procedure call (downstream calls included) this long or longer is logged as slow. */
const SLOW_PROCEDURE_MS = 1000;

export class ProcedureRunner implements ProcedureStep {
  readonly #logger: Logger;

  constructor(logger: Logger = silentLogger) {
    this.#logger = logger;
  }

  async run(
    scope: Scope,
    name: string,
    fragments: readonly Fragment[],
    listBase: ListBase | null = null,
  ): Promise<ProcedureUpdate[]> {
    const procedure = resolveProcedure(scope, name);
    const started = performance.now();
    try {
      const { updates } = await procedure.verifyAndExecute(scope, fragments, listBase);
      // The scope's later changesets wait behind this one: a slow downstream service is worth knowing.
      const durationMs = Math.round(performance.now() - started);
      if (durationMs >= SLOW_PROCEDURE_MS)
        this.#logger.warn({ procedure: name, scope: scope.name, durationMs }, 'slow procedure call');
      return updates;
    } catch (e) {
      // The wire message stays short and free of internal addresses; the log gets the details.
      if (e instanceof DownstreamError) this.#logger.warn(e.details, `Procedure '${name}': ${e.message}`);
      throw e;
    }
  }
}
