// model/: the schema DSL (model, defineModel, enumeration), ModelObject with its parent links
// and tree walk, collections, and value conversion to and from the wire.
// Shared by server and client: must not import Node-only modules, scope/, server/ or client/.
export { Collection } from './collection.js';
export {
  defineModel,
  type Instance,
  type ModelInit,
  type PropertySpec,
  type Schema,
  type TypedModelClass,
} from './define.js';
export {
  type Enumeration,
  type EnumValue,
  enumeration,
  isEnumeration,
  type NumberEnumeration,
  type StringEnumeration,
} from './enumeration.js';
export {
  type DynamicModelObject,
  isModelClass,
  type ModelClass,
  ModelObject,
  model,
  type ParentRelationship,
  type ScopeLink,
  walkTree,
} from './model-object.js';
export { INVALID, Kind, type ModelProperty, Property, type PropertyElement, toDate } from './property.js';
export { isUUID, normalizeUUID, uuidv4 } from './uuid.js';
