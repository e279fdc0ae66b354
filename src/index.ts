// The package entry: `require('jetstream')` is the callable of the original README (see
// scripts/build.mjs for how the CommonJS and ESM faces are produced from this module).
import { enumeration } from './model/enumeration.js';
import { model } from './model/model-object.js';
import { scope } from './scope/scope.js';

export * from './errors.js';
export * from './model/index.js';
export * from './scope/index.js';

/** The original module's surface, callable and with the DSL as properties. */
const jetstream = Object.assign(
  function jetstream(): never {
    throw new Error('jetstream(options): the server is not built yet');
  },
  { model, enumeration, scope },
);

export default jetstream;
