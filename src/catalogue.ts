/**
 * `docker-connector/catalogue`: the catalogue of operations (every
 * declaration) and the manifest that describes it, loaded at once
 * (synchronous access, for surfaces and tools that list or describe all
 * operations).
 */
export { operations, getOperation, listOperations, type AnyOperation, type OperationName, type ParamsOf, type ResultOf } from './operations/index.js';
export { buildManifest, parameterSchema, type Manifest, type ManifestOperation, type ManifestField } from './manifest.js';
export type { OperationDefinition, OperationContext, Safety, Category } from './operations/define.js';
