export { DockerConnector, validateParams, type ConnectorOptions, type ExecuteOptions } from './connector.js';
export { ConnectorError, ERROR_CODES, type ErrorCode, isConnectorError } from './errors.js';
export { loadConfig } from './config/load.js';
export { configSchema, type ConnectorConfig, type ConnectorConfigInput, SECRET_FIELDS } from './config/schema.js';
export { redact } from './config/redact.js';
export { operations, getOperation, listOperations, type OperationName, type ParamsOf, type ResultOf } from './operations/index.js';
export { buildManifest, type Manifest } from './manifest.js';
export { EngineClient } from './engine/client.js';
