// The procedures' step of the changeset pipeline (docs/protocol.md §9): resolves `Model.name`
// among the scope's classes, checks the changeset against the procedure's constraints, runs its
// remote step, and logs what the client must not see (a downstream's address and status).
import type { ProcedureStep } from '../pipeline/pipeline.js';
import type { Scope } from '../scope/scope.js';
import type { Fragment } from '../scope/types.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { DownstreamError } from './http.js';
import { resolveProcedure } from './procedure.js';
import type { ProcedureUpdate } from './types.js';

export class ProcedureRunner implements ProcedureStep {
  readonly #logger: Logger;

  constructor(logger: Logger = silentLogger) {
    this.#logger = logger;
  }

  async run(scope: Scope, name: string, fragments: readonly Fragment[]): Promise<ProcedureUpdate[]> {
    const procedure = resolveProcedure(scope, name);
    try {
      return (await procedure.verifyAndExecute(scope, fragments)).updates;
    } catch (e) {
      // The wire message stays short and free of internal addresses; the log gets the details.
      if (e instanceof DownstreamError) this.#logger.warn(e.details, `Procedure '${name}': ${e.message}`);
      throw e;
    }
  }
}
