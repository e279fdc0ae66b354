// pipeline/: the changeset pipeline, the one path by which a client's changeset reaches a scope
// (queue per scope → write gate → procedure → engine → updates; commit and fan-out follow the
// engine's 'changes' event). Procedures plug in as a ProcedureStep, persistence as a WriteGate.
// Depends on scope/ and on the types of procedures/; must not import server/, transport/ or
// store/.
export {
  ChangesetPipeline,
  type ChangesetRequest,
  type PipelineOptions,
  type ProcedureStep,
  type WriteGate,
} from './pipeline.js';
