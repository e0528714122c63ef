import { GUARDRAIL_RULES, guardrailsSetting, type GuardrailRule, type GuardrailsSetting, type GuardrailsSettingInput } from '../config/guardrails.js';
import { imageAllowed, normalizeReference, parseImagePattern, type ImagePattern } from '../config/image-patterns.js';
import { ConnectorError } from '../errors.js';
import { bodyImages, createBodyFindings, execBodyFindings, serviceBodyFindings, serviceContainerSpecs, volumeBodyFindings, type Finding } from './guardrail-rules.js';

/**
 * Guardrails: refuse, before it is sent, a request that would give a
 * container the host (privileged, host namespaces, dangerous capabilities,
 * devices, unconfined security profiles, the Docker socket or host system
 * folders mounted) or run an image outside allowed_images.
 *
 * Where the check runs: on every request an operation sends, as it is about
 * to be sent (`guard` wraps the operation context, the only way an
 * operation reaches the Engine). So it sees the final body, whatever built
 * it: friendly parameters, the raw `config` / `host_config` escape hatches,
 * or an operation added later. `checkParams` is an earlier look at the
 * parameters of pull_image, create_container and exec_container, so those
 * are refused before even the first call's version negotiation.
 */

type Request = { method?: string; path: string; query?: Record<string, unknown>; body?: unknown };

/** What a context must offer to be guarded: every way it reaches the Engine. */
export interface GuardableContext {
  operation: string;
  json: (req: never) => unknown;
  stream: (req: never) => unknown;
  upgrade: (req: never) => unknown;
}

const CREATE = /^(?:\/v[\d.]+)?\/containers\/create\/?$/;
const EXEC = /^(?:\/v[\d.]+)?\/containers\/[^/]+\/exec\/?$/;
const PULL = /^(?:\/v[\d.]+)?\/images\/create\/?$/;
const VOLUME = /^(?:\/v[\d.]+)?\/volumes\/create\/?$/;
const SERVICE = /^(?:\/v[\d.]+)?\/services\/(?:create|[^/]+\/update)\/?$/;

function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** A plain body as the Engine will read it; a stream or unreadable text cannot be checked. */
function readBody(body: unknown): { ok: true; value: unknown } | { ok: false } {
  if (body === undefined || body === null) return { ok: true, value: {} };
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      return { ok: true, value: JSON.parse(body.toString()) };
    } catch {
      return { ok: false };
    }
  }
  if (typeof (body as { pipe?: unknown }).pipe === 'function') return { ok: false };
  return { ok: true, value: body };
}

export class Guardrails {
  /** Rules the configuration relaxed. */
  readonly allowed: ReadonlySet<GuardrailRule>;
  /** allowed_images, parsed; undefined when every image may be used. */
  readonly images: readonly ImagePattern[] | undefined;

  private constructor(setting: Exclude<GuardrailsSetting, boolean> | undefined) {
    this.allowed = new Set(setting?.allow ?? []);
    this.images = setting?.allowed_images?.map((p) => parseImagePattern(p) as ImagePattern);
  }

  /**
   * The guardrails a setting asks for, or null when they are off.
   * `onByDefault`: what an absent setting means on this surface (on for the
   * HTTP service and MCP server, off for the library and CLI).
   */
  static resolve(setting: GuardrailsSettingInput | GuardrailsSetting | undefined, onByDefault: boolean): Guardrails | null {
    if (setting === undefined) return onByDefault ? new Guardrails(undefined) : null;
    const parsed = guardrailsSetting.safeParse(setting);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `guardrails${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`);
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${problems.join('; ')}`);
    }
    if (parsed.data === false) return null;
    return new Guardrails(parsed.data === true ? undefined : parsed.data);
  }

  /** The same context, with every request checked before it goes out. */
  guard<T extends GuardableContext>(ctx: T): T {
    const check = (req: unknown) => this.checkRequest(ctx.operation, req as Request);
    const wrap = <F extends (req: never) => unknown>(send: F) =>
      ((req: never) => {
        check(req);
        return send(req);
      }) as F;
    return { ...ctx, json: wrap(ctx.json), stream: wrap(ctx.stream), upgrade: wrap(ctx.upgrade) };
  }

  /** Throws FORBIDDEN when the request breaks a rule that applies; otherwise does nothing. */
  checkRequest(operation: string, req: Request): void {
    const path = req.path.split('?')[0]!;
    const method = (req.method ?? 'POST').toUpperCase();
    if (method !== 'POST') return;
    const kind = CREATE.test(path) ? 'create' : EXEC.test(path) ? 'exec' : PULL.test(path) ? 'pull' : VOLUME.test(path) ? 'volume' : SERVICE.test(path) ? 'service' : undefined;
    if (!kind) return;
    if (kind === 'pull') {
      const query = req.query ?? {};
      // fromSrc is an import of a tar the caller sends, not a pull.
      if (typeof query.fromImage === 'string') this.refuse(operation, this.imageFindings([pullReference(query.fromImage, query.tag)], 'fromImage'));
      return;
    }
    const body = readBody(req.body);
    if (!body.ok) {
      throw new ConnectorError('FORBIDDEN', `${operation} refused by guardrails: its request body cannot be checked before it is sent`, {
        operation,
        details: { rule: 'guardrails', policy: 'guardrails' },
      });
    }
    const value = body.value;
    const findings =
      kind === 'create'
        ? [...createBodyFindings(value), ...this.imageFindings(bodyImages(value), 'Image')]
        : kind === 'exec'
          ? execBodyFindings(value)
          : kind === 'volume'
            ? volumeBodyFindings(value)
            : [...serviceBodyFindings(value), ...this.imageFindings(serviceContainerSpecs(value).flatMap(bodyImages), 'TaskTemplate.ContainerSpec.Image')];
    this.refuse(operation, findings);
  }

  /**
   * The early look, on validated parameters: the references pull_image and
   * create_container name, exec_container's privileged flag and the
   * container settings create_container's parameters carry. The request
   * check stays the authority; this only refuses sooner.
   */
  checkParams(operation: string, params: unknown): void {
    const p = (params ?? {}) as Record<string, unknown>;
    if (operation === 'pull_image' && typeof p.image === 'string') {
      this.refuse(operation, this.imageFindings([pullReference(p.image, p.tag)], 'image'));
    } else if (operation === 'exec_container') {
      this.refuse(operation, execBodyFindings({ Privileged: p.privileged }));
    } else if (operation === 'create_container') {
      const host: Record<string, unknown> = { ...(p.host_config as Record<string, unknown> | undefined) };
      if (typeof p.network === 'string') host.NetworkMode = p.network;
      const binds = [p.volumes, p.binds].flatMap((v) => ((v as { binds?: string[] } | undefined)?.binds ?? []));
      if (binds.length) host.Binds = [...(Array.isArray(host.Binds) ? host.Binds : []), ...binds];
      const body = { ...(p.config as Record<string, unknown> | undefined), Image: p.image, HostConfig: host };
      this.refuse(operation, [...createBodyFindings(body), ...(typeof p.image === 'string' ? this.imageFindings([p.image], 'image') : [])]);
    }
  }

  private imageFindings(refs: string[], field: string): Finding[] {
    if (!this.images) return [];
    return refs.filter((r) => !imageAllowed(normalizeReference(r), this.images!)).map((r) => ({ rule: 'allowed_images' as const, field, value: r }));
  }

  private refuse(operation: string, all: Finding[]): void {
    const findings = all.filter((f) => !this.allowed.has(f.rule));
    if (!findings.length) return;
    const first = findings[0]!;
    const what = findings.map((f) => `${f.rule} (${f.field}: ${show(f.value)})`).join('; ');
    const relax = findings.some((f) => f.rule !== 'allowed_images')
      ? `; an operator who needs it can relax a rule by name in the config: guardrails: {"allow": [${[...new Set(findings.filter((f) => f.rule !== 'allowed_images').map((f) => `"${f.rule}"`))].join(', ')}]}`
      : '; the config\'s guardrails.allowed_images lists the images that may be used';
    throw new ConnectorError('FORBIDDEN', `${operation} refused by guardrails: ${what}${relax}`, {
      operation,
      details: {
        rule: first.rule,
        policy: 'guardrails',
        field: first.field,
        value: first.value,
        violations: findings.map((f) => ({ rule: f.rule, field: f.field, value: f.value, means: GUARDRAIL_RULES[f.rule] })),
      },
    });
  }
}

/** The reference a pull asks for: fromImage plus its tag or digest. */
function pullReference(image: string, tag: unknown): string {
  if (typeof tag !== 'string' || tag === '') return image;
  return tag.startsWith('sha256:') ? `${image}@${tag}` : `${image}:${tag}`;
}

const resolved = new WeakMap<object, Guardrails | null>();

/**
 * The guardrails a call runs under: those a surface chose (its policy
 * passes them in ExecuteOptions; null = off), else the connector's own
 * `guardrails` setting, off by default for the library and the CLI.
 */
export function guardrailsFor(config: { guardrails?: GuardrailsSetting | undefined }, chosen: Guardrails | null | undefined): Guardrails | null {
  if (chosen !== undefined) return chosen;
  if (config.guardrails === undefined) return null;
  let g = resolved.get(config);
  if (g === undefined) {
    g = Guardrails.resolve(config.guardrails, false);
    resolved.set(config, g);
  }
  return g;
}

/** The operation context as the call may use it: guarded when guardrails apply, untouched otherwise. */
export function guardContext<T extends GuardableContext>(config: { guardrails?: GuardrailsSetting | undefined }, chosen: Guardrails | null | undefined, ctx: T): T {
  const g = guardrailsFor(config, chosen);
  return g ? g.guard(ctx) : ctx;
}
