import { createHash } from 'node:crypto';
import { ConnectorError } from '../errors.js';
import type { OperationDefinition } from '../operations/index.js';
import { canonicalParams as canonical } from '../operations/parameter-schema.js';
import { KEY_PREFIX, type StateStore } from '../state-store.js';

/**
 * --confirm-destructive: a destructive call runs only after a dry run of
 * the same tool with the same other parameters in the same session, so a
 * model has seen what would go before it goes. A dry run confirms one real
 * call and only for a while: what it showed may no longer be true later.
 */

export const CONFIRM_TTL_MS = 10 * 60 * 1000;


export function confirmationKey(operation: string, validParams: Record<string, unknown>): string {
  // The real call may carry the plan its dry run returned: the same call all the same.
  const { dry_run: _ignored, plan_id: _plan, ...rest } = validParams;
  return `${operation} ${canonical(rest)}`;
}

function minutes(ms: number): string {
  const n = Math.max(1, Math.round(ms / 60000));
  return `${n} minute${n === 1 ? '' : 's'}`;
}

/** Where a session's confirmations are kept: this session's memory, or the state store shared by replicas. */
export interface ConfirmationLedger {
  /** A dry run succeeded: the same call without dry_run may now run once. */
  record(operation: string, validParams: Record<string, unknown>): void | Promise<void>;
  /** Throws unless a matching dry run was recorded (and not used or expired); a shared ledger uses it up here. */
  check(op: OperationDefinition, validParams: Record<string, unknown>): void | Promise<void>;
  /** The confirmed call ran: the dry run is used up. */
  consume(operation: string, validParams: Record<string, unknown>): void | Promise<void>;
  /** The confirmed call failed: its dry run confirms it again (a failed call may be retried). */
  release(operation: string, validParams: Record<string, unknown>): void | Promise<void>;
}

function noDryRun(op: OperationDefinition): ConnectorError {
  return new ConnectorError('FORBIDDEN', `Operation ${op.name} has no dry_run, so it cannot be confirmed; this MCP server was started with --confirm-destructive and refuses it`, {
    operation: op.name,
    details: { rule: 'confirm_destructive' },
  });
}

function unconfirmed(op: OperationDefinition, ttlMs: number, where: string): ConnectorError {
  return new ConnectorError(
    'FORBIDDEN',
    `Operation ${op.name} is destructive and this MCP server requires confirmation (--confirm-destructive): first call ${op.name} with the same parameters and dry_run: true, ` +
      `check what it would remove, then repeat the call without dry_run (within ${minutes(ttlMs)}, ${where})`,
    { operation: op.name, details: { rule: 'confirm_destructive' } },
  );
}

export class DryRunLedger implements ConfirmationLedger {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = CONFIRM_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A dry run succeeded: the same call without dry_run may now run once. */
  record(operation: string, validParams: Record<string, unknown>): void {
    this.sweep();
    this.seen.set(confirmationKey(operation, validParams), this.now());
  }

  /** Throws FORBIDDEN unless a matching dry run was recorded (and not used or expired). */
  check(op: OperationDefinition, validParams: Record<string, unknown>): void {
    this.sweep();
    if (!('dry_run' in validParams)) throw noDryRun(op);
    if (!this.seen.has(confirmationKey(op.name, validParams))) throw unconfirmed(op, this.ttlMs, 'in this session');
  }

  /** Nothing to do: check did not use the dry run up. */
  release(): void {}

  /** The confirmed call ran: the dry run is used up. */
  consume(operation: string, validParams: Record<string, unknown>): void {
    this.seen.delete(confirmationKey(operation, validParams));
  }

  private sweep(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [k, t] of this.seen) if (t < oldest) this.seen.delete(k);
  }
}

/**
 * Confirmations in the state store (state_store), so a dry run made through
 * one replica confirms the real call on another. Keyed by the caller's API
 * key id and the call, not by session (sessions belong to one replica).
 * The check takes the record in one step (GETDEL), so two replicas cannot
 * both use one dry run; a failed call puts it back. A lost store refuses
 * the destructive call (UNAVAILABLE): it never runs unconfirmed.
 */
export class SharedDryRunLedger implements ConfirmationLedger {
  constructor(
    private readonly open: () => Promise<StateStore>,
    /** The caller's API key id ("anonymous" without keys). */
    private readonly keyId: string,
    private readonly ttlMs: number = CONFIRM_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private key(operation: string, validParams: Record<string, unknown>): string {
    const digest = createHash('sha256').update(`${this.keyId}\n${confirmationKey(operation, validParams)}`).digest('base64url');
    return `${KEY_PREFIX}confirm:${digest}`;
  }

  async record(operation: string, validParams: Record<string, unknown>): Promise<void> {
    const store = await this.open();
    try {
      await store.run(() => store.client.set(this.key(operation, validParams), String(this.now()), 'PX', this.ttlMs));
    } catch (err) {
      throw store.unavailable(`the dry run of ${operation} ran, but its confirmation cannot be recorded, so the real call would be refused; repeat the dry run when the store is back`, err);
    }
  }

  async check(op: OperationDefinition, validParams: Record<string, unknown>): Promise<void> {
    if (!('dry_run' in validParams)) throw noDryRun(op);
    const store = await this.open();
    let recorded: string | null;
    try {
      recorded = await store.run(() => store.client.getdel(this.key(op.name, validParams)));
    } catch (err) {
      throw store.unavailable(`${op.name} needs its dry run's confirmation from it, so the destructive call is refused (nothing was done); retry when it is back`, err);
    }
    if (recorded === null) throw unconfirmed(op, this.ttlMs, 'through any replica, with the same API key');
  }

  /** Used up by check already. */
  consume(): void {}

  async release(operation: string, validParams: Record<string, unknown>): Promise<void> {
    // Best effort: a lost store only means the dry run must be repeated.
    const store = await this.open().catch(() => undefined);
    await store?.run(() => store.client.set(this.key(operation, validParams), String(this.now()), 'PX', this.ttlMs)).catch(() => {});
  }
}
