/**
 * The library's main entry: the connector, its errors and configuration.
 * It loads no operation family up front (each is imported on its first use),
 * so importing it stays cheap. The whole catalogue of operations and the
 * manifest are in `docker-connector/catalogue`.
 */
export type { OperationDefinition, OperationContext, Safety, Category } from './operations/define.js';
export { DockerConnector, validateParams, type ConnectorOptions, type ExecuteOptions } from './connector.js';
export { ConnectorError, ERROR_CODES, type ErrorCode, isConnectorError } from './errors.js';
export { loadConfig } from './config/load.js';
export { configSchema, type ConnectorConfig, type ConnectorConfigInput, SECRET_FIELDS } from './config/schema.js';
export { redact } from './config/redact.js';
export type { OperationName, ParamsOf, ResultOf } from './operations/index.js';
export { OPERATION_FAMILIES, isOperationName, loadOperation } from './operations/catalogue.js';
export type { Manifest } from './manifest.js';
export { EngineClient, AUTO_UNDICI_AFTER, type EngineTransport, type EngineRequest, type EngineResponse, type EngineUpgradeRequest, type UpgradedConnection, type EndpointDescription } from './engine/client.js';
export { enginePath } from './engine/path.js';
export { encodeRegistryAuth } from './engine/registry-auth.js';
export { PACKAGE_VERSION } from './package-info.js';
