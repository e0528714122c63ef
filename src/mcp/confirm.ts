import { ConnectorError } from '../errors.js';
import type { OperationDefinition } from '../operations/index.js';
import { canonicalParams as canonical } from '../operations/parameter-schema.js';

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

export class DryRunLedger {
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
    if (!('dry_run' in validParams)) {
      throw new ConnectorError('FORBIDDEN', `Operation ${op.name} has no dry_run, so it cannot be confirmed; this MCP server was started with --confirm-destructive and refuses it`, {
        operation: op.name,
        details: { rule: 'confirm_destructive' },
      });
    }
    if (!this.seen.has(confirmationKey(op.name, validParams))) {
      throw new ConnectorError(
        'FORBIDDEN',
        `Operation ${op.name} is destructive and this MCP server requires confirmation (--confirm-destructive): first call ${op.name} with the same parameters and dry_run: true, ` +
          `check what it would remove, then repeat the call without dry_run (within ${minutes(this.ttlMs)}, in this session)`,
        { operation: op.name, details: { rule: 'confirm_destructive' } },
      );
    }
  }

  /** The confirmed call ran: the dry run is used up. */
  consume(operation: string, validParams: Record<string, unknown>): void {
    this.seen.delete(confirmationKey(operation, validParams));
  }

  private sweep(): void {
    const oldest = this.now() - this.ttlMs;
    for (const [k, t] of this.seen) if (t < oldest) this.seen.delete(k);
  }
}
