// SyncProcedure: a named, per-model procedure that clients invoke with `procedure: "Model.name"`
// on a ScopeSync. It checks the changeset against its constraints, then runs its remote step
// (if any) before the changeset is applied. Also attaches the DSL to ModelObject:
// `Model.defineProcedure(name, {constraints, remote})`, `Model.getProcedure(name)`,
// `ModelObject.registerRemoteProcedureType(type, Class)`.
import { DefinitionError, ErrorCode, SyncError } from '../errors.js';
import { reachableClasses } from '../model/classes.js';
import { type ModelClass, ModelObject } from '../model/model-object.js';
import type { Scope } from '../scope/scope.js';
import type { Fragment, ListBase } from '../scope/types.js';
import { Constraint, type ConstraintSpec, firstUnmatched } from './constraints.js';
import { type HttpRemoteOptions, RemoteHttpProcedure } from './http.js';
import type {
  ProcedureResult,
  ProcedureUpdate,
  RemoteOutcome,
  RemoteProcedure,
  RemoteProcedureType,
} from './types.js';

/** `remote` of a procedure: the built-in `http` type, or a registered custom type. */
export type RemoteOptions = HttpRemoteOptions | ({ type: string } & Record<string, unknown>);

export interface ProcedureOptions {
  constraints: ConstraintSpec[];
  /** Without it the procedure only validates (constraints) and returns no updates. */
  remote?: RemoteOptions;
}

const remoteTypes = new Map<string, RemoteProcedureType>();

/**
 * Registers a custom remote type: `remote: {type: name, …}` then builds `new Type({name, remote})`
 * and calls its `execute(scope, fragments, callback?)`. Registering a name twice throws.
 */
export function registerRemoteProcedureType(name: string, Type: RemoteProcedureType): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new DefinitionError('A remote procedure type requires a name');
  if (typeof Type !== 'function') throw new DefinitionError('Not a valid procedure type, not a function');
  if (typeof Type.prototype?.execute !== 'function') {
    throw new DefinitionError("Not a valid procedure type, no 'execute' method");
  }
  if (remoteTypes.has(name))
    throw new DefinitionError(`Remote procedure type '${name}' is already registered`);
  remoteTypes.set(name, Type);
}

registerRemoteProcedureType('http', RemoteHttpProcedure);

export const CONSTRAINTS_NOT_MET = 'Changes do not match the procedure constraints';

export class SyncProcedure {
  /** The procedure's own name (`setName`). */
  readonly name: string;
  readonly model: ModelClass;
  readonly constraints: readonly Constraint[];
  readonly remote: RemoteProcedure | null;

  constructor(model: ModelClass, name: string, options: ProcedureOptions) {
    if (typeof name !== 'string' || name.length === 0 || name.includes('.')) {
      throw new DefinitionError(`Model '${model.typeName}': a procedure requires a name without dots`);
    }
    if (!options || !Array.isArray(options.constraints)) {
      throw new DefinitionError(`Procedure '${name}' has no constraints`);
    }
    this.name = name;
    this.model = model;
    this.constraints = options.constraints.map((c) => new Constraint(c));
    const remote = options.remote;
    if (remote === undefined || remote === null) {
      this.remote = null;
    } else {
      if (typeof remote !== 'object' || typeof remote.type !== 'string') {
        throw new DefinitionError(`Procedure '${name}' has no remote type set`);
      }
      const Type = remoteTypes.get(remote.type);
      if (!Type) throw new DefinitionError(`Procedure '${name}' has unknown remote type '${remote.type}'`);
      this.remote = new Type({
        name: this.fullName,
        remote: remote as { type: string } & Record<string, unknown>,
      });
    }
  }

  /** `Model.name`, as clients name it. */
  get fullName(): string {
    return `${this.model.typeName}.${this.name}`;
  }

  /** Null when every fragment matches a constraint, else the error (unless the scope disables it). */
  verify(scope: Scope, fragments: readonly Fragment[], listBase: ListBase | null = null): SyncError | null {
    if (scope.disableProcedureConstraints) return null;
    const root = scope.root;
    if (!root) return new SyncError('No root model set', ErrorCode.NO_ROOT);
    const classes = reachableClasses(root.constructor as ModelClass);
    return firstUnmatched(this.constraints, fragments, classes, scope, listBase) < 0
      ? null
      : new SyncError(CONSTRAINTS_NOT_MET, ErrorCode.PROCEDURE_CONSTRAINTS);
  }

  /**
   * Runs the remote step against the scope's current state. Resolves with the updates to apply
   * after the changeset; rejects with a SyncError when the changeset must be rejected.
   */
  async execute(scope: Scope, fragments: readonly Fragment[]): Promise<ProcedureResult> {
    if (!this.remote) return { updates: [] };
    let outcome: RemoteOutcome;
    try {
      outcome = await callRemote(this.remote, scope, fragments);
    } catch (e) {
      if (e instanceof SyncError) throw e;
      throw new SyncError(
        `Procedure '${this.fullName}' failed: ${(e as Error)?.message ?? String(e)}`,
        ErrorCode.PROCEDURE_FAILED,
      );
    }
    return { updates: normalizeOutcome(outcome, this.fullName) };
  }

  /** verify, then execute. `listBase`: what the sender last saw (see Constraint.matches). */
  verifyAndExecute(
    scope: Scope,
    fragments: readonly Fragment[],
    listBase: ListBase | null = null,
  ): Promise<ProcedureResult> {
    const error = this.verify(scope, fragments, listBase);
    return error ? Promise.reject(error) : this.execute(scope, fragments);
  }
}

/** Runs a remote step in whichever style it answers: promise, callback or plain value. */
function callRemote(
  remote: RemoteProcedure,
  scope: Scope,
  fragments: readonly Fragment[],
): Promise<RemoteOutcome> {
  return new Promise<RemoteOutcome>((resolve, reject) => {
    let settled = false;
    const callback = (err: Error | null, result?: RemoteOutcome) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(result);
    };
    const returned = remote.execute(scope, fragments, callback);
    if (returned && typeof (returned as PromiseLike<RemoteOutcome>).then === 'function') {
      (returned as PromiseLike<RemoteOutcome>).then(
        (v) => callback(null, v),
        (e) => callback(e instanceof Error ? e : new Error(String(e))),
      );
    } else if (returned !== undefined) {
      callback(null, returned as RemoteOutcome);
    } else if (remote.execute.length < 3) {
      // Returned nothing and takes no callback: it has nothing to add.
      callback(null, undefined);
    }
  });
}

function normalizeOutcome(outcome: RemoteOutcome, name: string): ProcedureUpdate[] {
  if (outcome === undefined || outcome === null) return [];
  const updates = Array.isArray(outcome) ? outcome : (outcome as ProcedureResult).updates;
  if (updates === undefined || updates === null) return [];
  if (!Array.isArray(updates))
    throw new SyncError(
      `Procedure '${name}' returned updates that are not an array`,
      ErrorCode.PROCEDURE_UPDATES,
    );
  return updates;
}

// ---- the DSL on model classes ----------------------------------------------------------------

function ownProcedures(cls: ModelClass): Map<string, unknown> {
  if (!Object.hasOwn(cls, '$procedures')) cls.$procedures = new Map();
  return cls.$procedures;
}

/** `defineProcedure(ChatRoom, 'setName', {constraints, remote})`: the function form. */
export function defineProcedure(Model: ModelClass, name: string, options: ProcedureOptions): SyncProcedure {
  if (
    typeof Model !== 'function' ||
    (Model as unknown) === ModelObject ||
    !(Model.prototype instanceof ModelObject)
  ) {
    throw new DefinitionError('defineProcedure requires a model class');
  }
  const procedures = ownProcedures(Model);
  if (procedures.has(name)) throw new DefinitionError(`Procedure '${name}' already exists`);
  const procedure = new SyncProcedure(Model, name, options);
  procedures.set(name, procedure);
  return procedure;
}

/** The procedure `name` of `Model` or of a model it inherits from. */
export function getProcedure(Model: ModelClass, name: string): SyncProcedure | undefined {
  for (let c: ModelClass | null = Model; c; c = c.$super) {
    const p = Object.hasOwn(c, '$procedures') ? c.$procedures.get(name) : undefined;
    if (p instanceof SyncProcedure) return p;
  }
  return undefined;
}

/**
 * Resolves `Model.name` among the classes a fragment of this scope may name. Throws a SyncError
 * with the protocol's messages.
 */
export function resolveProcedure(scope: Scope, qualifiedName: string): SyncProcedure {
  const root = scope.root;
  if (!root) throw new SyncError('No root model set', ErrorCode.NO_ROOT);
  const parts = typeof qualifiedName === 'string' ? qualifiedName.split('.') : [];
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new SyncError(
      'Procedure must be of the format "ModelName.procedureName"',
      ErrorCode.PROCEDURE_NAME,
    );
  }
  const [modelName, procedureName] = parts as [string, string];
  const cls = reachableClasses(root.constructor as ModelClass).get(modelName);
  if (!cls)
    throw new SyncError(
      `No such model '${modelName}' for procedure call with procedure '${qualifiedName}'`,
      ErrorCode.PROCEDURE_MODEL,
    );
  const procedure = getProcedure(cls, procedureName);
  if (!procedure)
    throw new SyncError(
      `No such procedure '${procedureName}' for model '${modelName}'`,
      ErrorCode.PROCEDURE_NOT_FOUND,
    );
  return procedure;
}

declare module '../model/model-object.js' {
  // A declaration merge: adds the statics below to the ModelObject class.
  namespace ModelObject {
    /** Defines a procedure on this model (see src/procedures). Requires importing 'procedures/'. */
    function defineProcedure(this: ModelClass, name: string, options: ProcedureOptions): SyncProcedure;
    /** This model's procedure `name` (own or inherited). */
    function getProcedure(this: ModelClass, name: string): SyncProcedure | undefined;
    function registerRemoteProcedureType(name: string, Type: RemoteProcedureType): void;
  }
}

Object.assign(ModelObject, {
  defineProcedure(this: ModelClass, name: string, options: ProcedureOptions): SyncProcedure {
    return defineProcedure(this, name, options);
  },
  getProcedure(this: ModelClass, name: string): SyncProcedure | undefined {
    return getProcedure(this, name);
  },
  registerRemoteProcedureType,
});
