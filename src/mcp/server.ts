import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { redact, scrubText } from '../config/redact.js';
import { validateParams, type DockerConnector } from '../connector.js';
import { ConnectorError, toConnectorError } from '../errors.js';
import { PACKAGE_VERSION } from '../manifest.js';
import { getOperation, listOperations, type OperationDefinition } from '../operations/index.js';
import type { ProgressEvent } from '../operations/define.js';
import { auditResultFields, type AuditLog } from '../access/audit.js';
import type { Policy, Principal } from '../access/policy.js';
import { DryRunLedger, SharedDryRunLedger, type ConfirmationLedger } from './confirm.js';
import { openStateStore, stateStoreSettingsOf, type StateStoreSettings } from '../state-store.js';
import { capFanOut, capOutput, summarize, summarizeFanOut, truncationNote, type Capped, type FanOutValue } from './output.js';
import { cutPolicy, fanOutCutPolicy, structuredFor, toolOutput } from './output-schema.js';
import { askedEndpoint, chooseEndpoint, type EndpointChoice } from './endpoint-choice.js';
import type { McpSettings } from './settings.js';
import { listTools, refusal, safetyLevel, type Gate } from './tools.js';

/**
 * The MCP server side shared by both transports. A ToolHost holds what is
 * fixed for the process (connector, policy, audit log, limits); each MCP
 * session gets its own SDK `Server` from `createServer`, with its own
 * caller identity and its own record of dry runs.
 */

export interface ToolHostOptions {
  connector: DockerConnector;
  policy: Policy;
  audit: AuditLog;
  settings: Pick<McpSettings, 'allow_write' | 'allow_destructive' | 'confirm_destructive' | 'max_output_bytes'>;
  /** Endpoint name written to the audit log. */
  endpoint?: string;
}

export interface SessionInfo {
  /** The API key's principal (HTTP with keys); undefined = no per-caller identity (stdio, --no-auth). */
  principal?: Principal;
  /** Client address for the audit log ("stdio" for a local client). */
  client: string | null;
}

interface SendNotification {
  (notification: ServerNotification): Promise<void>;
}

/** Progress notifications at most this often: pulls report many small steps. */
const PROGRESS_INTERVAL_MS = 250;

export class ToolHost {
  readonly gate: Gate;
  private readonly secrets: string[];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly opts: ToolHostOptions) {
    this.gate = { level: safetyLevel({ allowWrite: opts.settings.allow_write, allowDestructive: opts.settings.allow_destructive }), policy: opts.policy };
    // Each named endpoint has its own settings (and so its own secrets) besides the top-level ones.
    this.secrets = opts.connector.secretValues();
  }

  /** The state store replicas share (state_store), if configured. */
  get stateStore(): StateStoreSettings | undefined {
    return stateStoreSettingsOf(this.opts.connector.config);
  }

  /** A session's confirmations: shared through the state store when there is one, else the session's own. */
  private ledgerFor(session: SessionInfo): ConfirmationLedger {
    const shared = this.stateStore;
    return shared ? new SharedDryRunLedger(() => openStateStore(shared)!, session.principal?.id ?? 'anonymous') : new DryRunLedger();
  }

  get confirmDestructive(): boolean {
    return this.opts.settings.confirm_destructive && this.gate.level === 'destructive';
  }

  /** Instructions sent at initialize: what the server lets a model do, in a few lines. */
  instructions(): string {
    const level = { read: 'read-only operations only', write: 'read and write operations (no destructive ones)', destructive: 'read, write and destructive operations' }[this.gate.level];
    const lines = [
      `Docker Engine operations (docker-connector ${PACKAGE_VERSION}), one tool per operation. This server offers ${level}.`,
      `Results are the operation's JSON as structured content, as each tool's outputSchema describes it (a result that is not an object comes as {"result": ...}); errors come as text ("CODE: message", then the JSON {"error": ...}); results over ${this.opts.settings.max_output_bytes} bytes are cut with a note.`,
      'Destructive tools take dry_run: true to report what would be removed without removing anything.',
    ];
    const endpoints = this.opts.connector.endpointNames;
    if (endpoints.length > 1) {
      lines.push(
        `Named endpoints: ${endpoints.join(', ')} (default ${this.opts.connector.defaultEndpoint}). Tools take "endpoint" to choose one; read tools also take "all" or a list of names and then answer {"results": {name: result}, "errors": {name: {"code", "message"}}}. Tools that search across endpoints (${listOperations().filter((o) => o.acrossEndpoints).map((o) => o.name).join(', ')}) take their own "endpoints" instead.`,
      );
    }
    if (this.confirmDestructive) lines.push('Confirmation is on: a destructive call runs only after the same call with dry_run: true in this session.');
    return lines.join('\n');
  }

  /** A new SDK server for one session. */
  createServer(session: SessionInfo): Server {
    const server = new Server({ name: 'docker-connector', title: 'Docker Connector', version: PACKAGE_VERSION }, { capabilities: { tools: {} }, instructions: this.instructions() });
    const ledger = this.ledgerFor(session);
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: listTools(this.gate, session.principal, this.opts.connector.endpointNames) }));
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const progressToken = extra._meta?.progressToken;
      const work = this.call(req.params.name, req.params.arguments ?? {}, {
        session,
        ledger,
        signal: extra.signal,
        onProgress: progressToken === undefined ? undefined : progressSender(progressToken, extra.sendNotification),
      });
      this.inFlight.add(work);
      try {
        return await work;
      } finally {
        this.inFlight.delete(work);
      }
    });
    return server;
  }

  /**
   * Waits for calls still running (up to `timeoutMs`, or until they end),
   * so their answers and audit lines are written before the server stops.
   */
  async drain(timeoutMs?: number): Promise<void> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // A request read just before input ended reaches its handler a tick later.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const wait = deadline === Infinity ? [] : [new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline - Date.now())))];
      await Promise.race([Promise.allSettled([...this.inFlight]), ...wait]);
      clearTimeout(timer);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** One tools/call: checks, the operation, the answer; always one audit line. */
  async call(
    name: string,
    params: Record<string, unknown>,
    ctx: { session: SessionInfo; ledger: ConfirmationLedger; signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void },
  ): Promise<CallToolResult> {
    const started = performance.now();
    let outcome = 'ok';
    let resultFields: Record<string, unknown> | undefined;
    let choice: EndpointChoice | undefined;
    try {
      const op = getOperation(name);
      if (!op) throw new ConnectorError('UNKNOWN_OPERATION', `Unknown tool "${name}"; tools/list gives the tools this server offers`, { operation: name });
      const refused = refusal(this.gate, op, ctx.session.principal);
      if (refused) throw refused;
      // Several named endpoints: `endpoint` is taken out of the arguments (src/mcp/endpoint-choice.ts).
      choice = chooseEndpoint(this.opts.connector, op, params);
      params = choice.params;
      this.checkLocalFiles(op, params);
      if (choice.across !== undefined) {
        const fan = await this.opts.connector.executeAcross(name, params, { endpoints: choice.across, signal: ctx.signal, onProgress: ctx.onProgress, guardrails: this.opts.policy.guardrails });
        return this.successFanOut(op, fan as FanOutValue);
      }

      // Confirmation compares validated parameters, so {"force": false} and {} are the same call.
      const confirming = this.confirmDestructive && op.safety === 'destructive';
      // The ledger keys on the endpoint too: a dry run on one endpoint confirms nothing on another.
      const valid = confirming ? choice.forLedger(validateParams(op, params) as Record<string, unknown>) : undefined;
      if (valid && valid.dry_run !== true) await ctx.ledger.check(op, valid);

      let result: unknown;
      try {
        result = await this.opts.connector.executeDynamic(name, params, { signal: ctx.signal, onProgress: ctx.onProgress, guardrails: this.opts.policy.guardrails, endpoint: choice.endpoint });
      } catch (err) {
        if (valid && valid.dry_run !== true) await ctx.ledger.release(name, valid);
        throw err;
      }
      resultFields = auditResultFields(op, result);
      if (valid) {
        if (valid.dry_run === true) await ctx.ledger.record(name, valid);
        else await ctx.ledger.consume(name, valid);
      }
      return this.success(op, result);
    } catch (raw) {
      const err = toConnectorError(raw, name);
      outcome = ctx.signal?.aborted ? 'cancelled' : err.code;
      return this.failure(err);
    } finally {
      this.opts.audit.record({
        surface: 'mcp',
        key_id: ctx.session.principal?.id ?? null,
        client: ctx.session.client,
        endpoint: choice?.audit ?? askedEndpoint(this.opts.connector, params) ?? this.opts.endpoint ?? 'default',
        operation: name,
        params,
        outcome,
        ...(resultFields ? { result: resultFields } : {}),
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    }
  }

  /** The shared local-files rule, with advice that fits this surface. */
  private checkLocalFiles(op: OperationDefinition, params: Record<string, unknown>): void {
    try {
      this.opts.policy.checkParams(op, params, 'result');
    } catch (err) {
      if (!(err instanceof ConnectorError) || (err.details as { rule?: string } | undefined)?.rule !== 'local_files') throw err;
      const given = ((err.details as { parameters?: string[] }).parameters ?? []).join(', ');
      throw new ConnectorError(
        'FORBIDDEN',
        `Operation ${op.name}: parameter ${given} names a file on the MCP server's host, which this server does not allow (start it with --local-files or set mcp.local_files)`,
        { operation: op.name, details: err.details },
      );
    }
  }

  private scrub(text: string): string {
    return scrubText(text, this.secrets);
  }

  /**
   * A result as the tool's outputSchema describes it: structured content
   * (wrapped as `{"result": …}` when the result is not always an object),
   * plus a summary line and the same JSON as text. Past the output limit
   * the cap cuts only parts whose declared shape a cut keeps valid.
   */
  private success(op: OperationDefinition, result: unknown): CallToolResult {
    const name = op.name;
    const limit = this.opts.settings.max_output_bytes;
    const capped = capOutput(result, limit, cutPolicy(op));
    if (capped.replaced && toolOutput(op)) return this.tooLarge(op, capped, limit);
    const note = truncationNote(capped, limit);
    const body = capped.value;
    const structured = structuredFor(op, body);
    const json = this.scrub(JSON.stringify(body ?? null));
    const summary = this.scrub([summarize(name, result), note].filter(Boolean).join('\n'));
    const out: CallToolResult = {
      content: [
        { type: 'text', text: summary },
        { type: 'text', text: json },
      ],
      structuredContent: JSON.parse(this.scrub(JSON.stringify(structured))) as Record<string, unknown>,
    };
    if (note) out._meta = { 'docker-connector/truncated': { original_bytes: capped.original_bytes, limit, cuts: capped.cuts } };
    return out;
  }

  /**
   * A fan-out's answer, `{results, errors}`: the fan-out branch of the
   * tool's outputSchema. Past the output limit each endpoint's result is cut
   * to its share (src/mcp/output.ts capFanOut), as far as its schema allows.
   */
  private successFanOut(op: OperationDefinition, fan: FanOutValue): CallToolResult {
    const limit = this.opts.settings.max_output_bytes;
    const capped = capFanOut(fan, limit, fanOutCutPolicy(op));
    if (capped.replaced) return this.tooLarge(op, capped, limit);
    const note = truncationNote(capped, limit);
    const json = this.scrub(JSON.stringify(capped.value));
    const out: CallToolResult = {
      content: [
        { type: 'text', text: this.scrub([summarizeFanOut(op.name, fan), note].filter(Boolean).join('\n')) },
        { type: 'text', text: json },
      ],
      structuredContent: JSON.parse(json) as Record<string, unknown>,
    };
    if (note) out._meta = { 'docker-connector/truncated': { original_bytes: capped.original_bytes, limit, cuts: capped.cuts } };
    return out;
  }

  /**
   * A result that no allowed cut brings under the limit. A size note in
   * place of the result would not match the tool's outputSchema (and the
   * SDK's client refuses structured content that does not), so it is a tool
   * error whose text says the operation itself succeeded.
   */
  private tooLarge(op: OperationDefinition, capped: Capped, limit: number): CallToolResult {
    const text =
      `${op.name} succeeded, but its result is ${capped.original_bytes} bytes of JSON and cannot be cut to this server's limit of ${limit} bytes without breaking the tool's output schema. ` +
      'Narrow the call (filters, limit, tail, max_bytes) or raise the limit (mcp.max_output_bytes, --max-output).';
    return {
      isError: true,
      content: [
        { type: 'text', text },
        { type: 'text', text: JSON.stringify(capped.value) },
      ],
      _meta: { 'docker-connector/truncated': { original_bytes: capped.original_bytes, limit, cuts: capped.cuts } },
    };
  }

  /**
   * A failed call: the error as text only (`CODE: message`, then the JSON
   * `{"error": …}`). No structured content: it would have to match the
   * tool's outputSchema, which describes results, not errors.
   */
  private failure(err: ConnectorError): CallToolResult {
    const body = err.toJSON();
    if (body.details) body.details = redact(body.details);
    return {
      isError: true,
      content: [
        { type: 'text', text: this.scrub(`${err.code}: ${err.message}`) },
        { type: 'text', text: this.scrub(JSON.stringify({ error: body })) },
      ],
    };
  }
}

/** Turns operation progress into MCP progress notifications (throttled, strictly increasing). */
function progressSender(token: string | number, send: SendNotification): (e: ProgressEvent) => void {
  let progress = 0;
  let last = 0;
  return (e) => {
    const now = Date.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    let message: string | undefined;
    let total: number | undefined;
    if (e.kind === 'bytes') {
      progress = Math.max(progress + 1, e.bytes);
      total = e.total;
      message = `${e.label ?? 'transfer'}: ${e.bytes} bytes`;
    } else {
      progress += 1;
      const m = e.message;
      message = (m.stream ?? [m.status, m.id, m.progress].filter(Boolean).join(' ')).trim() || undefined;
    }
    const params: { progressToken: string | number; progress: number; total?: number; message?: string } = { progressToken: token, progress };
    if (total !== undefined && total >= progress) params.total = total;
    if (message) params.message = message.slice(0, 200);
    // Progress is best effort: a client that went away must not fail the call.
    send({ method: 'notifications/progress', params }).catch(() => {});
  };
}
