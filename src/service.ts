/**
 * `docker-connector/service`: the HTTP service and the MCP server for Node
 * programs that embed them (the CLI's `serve` and `mcp` commands start the
 * same code), with the keys, policy, audit and log pieces they take.
 */
export { HttpService, type CreateServiceOptions, type ServiceOverrides } from './http/service.js';
export { buildApp, type ServiceApp } from './http/app.js';
export { parseServiceSettings, type ServiceSettings } from './http/settings.js';
export { McpService } from './mcp/service.js';
export { createAuditLog, type AuditLog, type AuditEntry } from './access/audit.js';
export { KeyStore, Policy } from './access/policy.js';
export { createLogger, silentLogger, type Logger } from './log.js';
