/**
 * `docker-connector/registry`: every operation declaration and the manifest,
 * loaded at once (synchronous access, for surfaces and tools that list or
 * describe all operations).
 */
export { operations, getOperation, listOperations, type AnyOperation, type OperationName, type ParamsOf, type ResultOf } from './operations/index.js';
export { buildManifest, parameterSchema, type Manifest, type ManifestOperation, type ManifestField } from './manifest.js';
export type { OperationDefinition, OperationContext, Safety, Category } from './operations/define.js';
