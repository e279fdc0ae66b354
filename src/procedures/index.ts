// procedures/: named per-model procedures that clients invoke on a ScopeSync (docs/protocol.md
// §9): constraints, binding expressions, the remote `http` type and custom remote types, and
// ProcedureRunner, the step they plug into the changeset pipeline (pipeline/) with.
// Importing this module attaches `defineProcedure`, `getProcedure` and
// `registerRemoteProcedureType` to ModelObject. Server-side: depends on model/ and scope/ only;
// must not import server/, transport/ or store/.
export {
  type ArrayConstraintType,
  ArrayPropertyConstraint,
  arrayPropertyConstraint,
  Constraint,
  type ConstraintSpec,
  constraint,
  HasNewValuePropertyConstraint,
  hasNewValuePropertyConstraint,
  type PropertyConstraintValue,
  type PropertyNames,
} from './constraints.js';
export {
  bindValues,
  Expression,
  type ExpressionContext,
  ExpressionError,
  type ExpressionOptions,
  type ExpressionSource,
  expr,
} from './expression.js';
export {
  DEFAULT_TIMEOUT_MS,
  DownstreamError,
  HTTP_METHODS,
  type HttpMethod,
  type HttpRemoteOptions,
  RemoteHttpProcedure,
} from './http.js';
export {
  CONSTRAINTS_NOT_MET,
  defineProcedure,
  getProcedure,
  type ProcedureOptions,
  type RemoteOptions,
  registerRemoteProcedureType,
  resolveProcedure,
  SyncProcedure,
} from './procedure.js';
export { ProcedureRunner } from './runner.js';
export type {
  ProcedureResult,
  ProcedureUpdate,
  RemoteOutcome,
  RemoteProcedure,
  RemoteProcedureType,
  RemoteTypeOptions,
} from './types.js';
