import { posix } from 'node:path';
import type { GuardrailRule } from '../config/guardrails.js';

/**
 * The checks behind each guardrail, on Engine request bodies exactly as
 * they are sent (see guardrails.ts for where they run). Pure functions: a
 * finding names the rule, the field and the offending value.
 *
 * Field names are looked up the way the Engine's JSON decoder (Go) matches
 * them: without regard to case, and with the Kelvin sign and the long s
 * folding to "k" and "s". {"privileged": true} and {"PRIVILEGED": true}
 * make a privileged container as surely as {"Privileged": true} does.
 */

export interface Finding {
  rule: GuardrailRule;
  /** Where in the request, e.g. "HostConfig.CapAdd". */
  field: string;
  value: unknown;
}

type Json = Record<string, unknown>;

const fold = (key: string) => key.toLowerCase().replace(/\u017f/g, 's');

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value the Engine could read as field `name` of `obj` (several keys can fold to one name). */
export function fieldValues(obj: unknown, name: string): unknown[] {
  if (!isObject(obj)) return [];
  const want = fold(name);
  return Object.keys(obj)
    .filter((k) => fold(k) === want)
    .map((k) => obj[k]);
}

const objectsAt = (obj: unknown, name: string): Json[] => fieldValues(obj, name).filter(isObject);

/** A string-or-list field (the Engine's StrSlice accepts both), as strings. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/* ------------------------------ capabilities ------------------------------ */

const DANGEROUS_CAPS = new Set(['ALL', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'NET_ADMIN', 'DAC_READ_SEARCH', 'SYS_RAWIO', 'BPF', 'PERFMON']);

/** "cap_sys_admin", "SYS_ADMIN", " Sys_Admin " → "SYS_ADMIN", as the Engine normalizes them. */
export function normalizeCapability(cap: string): string {
  return cap.trim().toUpperCase().replace(/^CAP_/, '');
}

export function dangerousCapabilities(caps: string[]): string[] {
  return caps.filter((c) => DANGEROUS_CAPS.has(normalizeCapability(c)));
}

/* ------------------------------ host paths ------------------------------ */

/** Host folders a container must not see: the root as such, these with everything inside and every folder holding one. */
const SENSITIVE_ROOTS = ['/etc', '/proc', '/sys', '/dev', '/root', '/boot', '/var/lib/docker', '/run', '/var/run'];

/** "/etc/", "//etc", "/./etc", "/tmp/../etc" → "/etc". */
export function normalizeHostPath(path: string): string {
  const n = posix.normalize(path.trim());
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/**
 * The rule a bind source breaks, if any. Absolute paths only: anything else
 * is a volume name. A path ending in docker.sock is the socket rule alone,
 * so relaxing docker_socket is enough to mount /var/run/docker.sock.
 */
export function hostPathRule(source: string): GuardrailRule | undefined {
  if (!source.trim().startsWith('/')) return undefined;
  const p = normalizeHostPath(source);
  if (p.endsWith('docker.sock')) return 'docker_socket';
  if (p === '/') return 'host_paths';
  const inside = (root: string) => p === root || p.startsWith(`${root}/`);
  const holds = (root: string) => root.startsWith(`${p}/`);
  return SENSITIVE_ROOTS.some((r) => inside(r) || holds(r)) ? 'host_paths' : undefined;
}

/* ------------------------------ security options ------------------------------ */

const UNCONFINED_SELINUX_TYPES = new Set(['spc_t', 'unconfined_t']);

/** The rule a SecurityOpt entry breaks: "key=value" or the older "key:value". */
export function securityOptRule(opt: string): GuardrailRule | undefined {
  const text = opt.trim();
  const eq = text.indexOf('=');
  const colon = text.indexOf(':');
  const cut = eq >= 0 ? eq : colon;
  if (cut < 0) return undefined;
  const key = text.slice(0, cut).trim().toLowerCase();
  const value = text.slice(cut + 1).trim();
  const lower = value.toLowerCase();
  if (key === 'seccomp') {
    if (lower === 'unconfined') return 'seccomp_unconfined';
    // A profile sent inline whose default lets every syscall through is no confinement either.
    if (value.startsWith('{')) {
      try {
        const action = fieldValues(JSON.parse(value), 'defaultAction').map((a) => String(a).toUpperCase());
        if (action.some((a) => a === 'SCMP_ACT_ALLOW' || a === 'SCMP_ACT_LOG' || a.startsWith('SCMP_ACT_TRACE'))) return 'seccomp_unconfined';
      } catch {
        // Not JSON: the Engine refuses it.
      }
    }
    return undefined;
  }
  if (key === 'apparmor') return lower === 'unconfined' ? 'apparmor_unconfined' : undefined;
  if (key === 'label') {
    if (lower === 'disable' || lower === 'disabled') return 'label_disable';
    const type = /^type[:=](.+)$/.exec(lower);
    return type && UNCONFINED_SELINUX_TYPES.has(type[1]!.trim()) ? 'label_disable' : undefined;
  }
  if (key === 'systempaths') return lower === 'unconfined' ? 'systempaths_unconfined' : undefined;
  return undefined;
}

/* ------------------------------ mounts ------------------------------ */

/** The host source of a "source:/target[:options]" bind, when it is a path (not a volume name). */
function bindSource(bind: string): string | undefined {
  const source = bind.split(':')[0] ?? '';
  return source.trim().startsWith('/') ? source : undefined;
}

/** A volume's "device" driver option: the local driver mounts that host path (o=bind) or device there. */
function deviceOptions(options: unknown): string[] {
  return isObject(options) ? fieldValues(options, 'device').filter((d): d is string => typeof d === 'string') : [];
}

function mountFindings(mounts: unknown, where: string): Finding[] {
  const out: Finding[] = [];
  if (!Array.isArray(mounts)) return out;
  mounts.forEach((m, i) => {
    const type = fieldValues(m, 'Type').map((t) => String(t).toLowerCase());
    if (type.includes('bind')) {
      for (const source of strings(fieldValues(m, 'Source').flat())) {
        const rule = hostPathRule(source);
        if (rule) out.push({ rule, field: `${where}[${i}].Source`, value: source });
      }
    }
    for (const opts of objectsAt(m, 'VolumeOptions')) {
      for (const driver of objectsAt(opts, 'DriverConfig')) {
        for (const options of fieldValues(driver, 'Options')) {
          for (const device of deviceOptions(options)) {
            const rule = hostPathRule(device);
            if (rule) out.push({ rule, field: `${where}[${i}].VolumeOptions.DriverConfig.Options.device`, value: device });
          }
        }
      }
    }
  });
  return out;
}

/* ------------------------------ request bodies ------------------------------ */

const HOST_MODES: [string, GuardrailRule][] = [
  ['PidMode', 'host_pid'],
  ['IpcMode', 'host_ipc'],
  ['UTSMode', 'host_uts'],
  ['UsernsMode', 'host_userns'],
  ['NetworkMode', 'host_network'],
];

/** What a HostConfig (create_container) asks for that the rules refuse. */
export function hostConfigFindings(host: Json): Finding[] {
  const out: Finding[] = [];
  const at = (field: string) => fieldValues(host, field);
  if (at('Privileged').some((v) => v === true)) out.push({ rule: 'privileged', field: 'HostConfig.Privileged', value: true });
  for (const [field, rule] of HOST_MODES) {
    for (const v of at(field)) if (typeof v === 'string' && v.trim().toLowerCase() === 'host') out.push({ rule, field: `HostConfig.${field}`, value: v });
  }
  for (const field of ['CapAdd', 'Capabilities']) {
    const caps = dangerousCapabilities(at(field).flatMap(strings));
    if (caps.length) out.push({ rule: 'capabilities', field: `HostConfig.${field}`, value: caps });
  }
  for (const field of ['Devices', 'DeviceRequests', 'DeviceCgroupRules']) {
    const given = at(field).filter((v) => Array.isArray(v) && v.length > 0);
    if (given.length) out.push({ rule: 'devices', field: `HostConfig.${field}`, value: given.flat() });
  }
  for (const opt of at('SecurityOpt').flatMap(strings)) {
    const rule = securityOptRule(opt);
    if (rule) out.push({ rule, field: 'HostConfig.SecurityOpt', value: opt });
  }
  for (const field of ['MaskedPaths', 'ReadonlyPaths']) {
    // A list given replaces the Engine's defaults, which keep /proc/kcore hidden and /proc/sys read-only.
    for (const v of at(field)) if (Array.isArray(v)) out.push({ rule: 'systempaths_unconfined', field: `HostConfig.${field}`, value: v });
  }
  at('Binds')
    .flatMap(strings)
    .forEach((bind, i) => {
      const source = bindSource(bind);
      const rule = source === undefined ? undefined : hostPathRule(source);
      if (rule) out.push({ rule, field: `HostConfig.Binds[${i}]`, value: bind });
    });
  for (const mounts of at('Mounts')) out.push(...mountFindings(mounts, 'HostConfig.Mounts'));
  return out;
}

/** POST /containers/create: every HostConfig the Engine could read. */
export function createBodyFindings(body: unknown): Finding[] {
  return objectsAt(body, 'HostConfig').flatMap(hostConfigFindings);
}

/** The images a create or service body names. */
export function bodyImages(body: unknown): string[] {
  return fieldValues(body, 'Image').filter((v): v is string => typeof v === 'string');
}

/** POST /containers/{id}/exec. */
export function execBodyFindings(body: unknown): Finding[] {
  return fieldValues(body, 'Privileged').some((v) => v === true) ? [{ rule: 'privileged_exec', field: 'Privileged', value: true }] : [];
}

/** POST /volumes/create: a local volume whose device is a sensitive host path binds it into whoever mounts the volume. */
export function volumeBodyFindings(body: unknown): Finding[] {
  const out: Finding[] = [];
  for (const options of fieldValues(body, 'DriverOpts')) {
    for (const device of deviceOptions(options)) {
      const rule = hostPathRule(device);
      if (rule) out.push({ rule, field: 'DriverOpts.device', value: device });
    }
  }
  return out;
}

/** The container specs of a swarm service body (TaskTemplate.ContainerSpec). */
export function serviceContainerSpecs(body: unknown): Json[] {
  return objectsAt(body, 'TaskTemplate').flatMap((t) => objectsAt(t, 'ContainerSpec'));
}

/** POST /services/create and /services/{id}/update: the same rules for the containers a service runs. */
export function serviceBodyFindings(body: unknown): Finding[] {
  const out: Finding[] = [];
  for (const spec of serviceContainerSpecs(body)) {
    const caps = dangerousCapabilities(fieldValues(spec, 'CapabilityAdd').flatMap(strings));
    if (caps.length) out.push({ rule: 'capabilities', field: 'ContainerSpec.CapabilityAdd', value: caps });
    for (const mounts of fieldValues(spec, 'Mounts')) out.push(...mountFindings(mounts, 'ContainerSpec.Mounts'));
    for (const priv of objectsAt(spec, 'Privileges')) {
      for (const se of objectsAt(priv, 'SELinuxContext')) {
        if (fieldValues(se, 'Disable').some((v) => v === true)) out.push({ rule: 'label_disable', field: 'ContainerSpec.Privileges.SELinuxContext.Disable', value: true });
        for (const t of fieldValues(se, 'Type')) if (typeof t === 'string' && UNCONFINED_SELINUX_TYPES.has(t.trim().toLowerCase())) out.push({ rule: 'label_disable', field: 'ContainerSpec.Privileges.SELinuxContext.Type', value: t });
      }
      for (const sc of objectsAt(priv, 'Seccomp')) {
        for (const m of fieldValues(sc, 'Mode')) if (String(m).toLowerCase() === 'unconfined') out.push({ rule: 'seccomp_unconfined', field: 'ContainerSpec.Privileges.Seccomp.Mode', value: m });
      }
      for (const aa of objectsAt(priv, 'AppArmor')) {
        for (const m of fieldValues(aa, 'Mode')) if (String(m).toLowerCase() === 'disabled') out.push({ rule: 'apparmor_unconfined', field: 'ContainerSpec.Privileges.AppArmor.Mode', value: m });
      }
    }
  }
  for (const t of objectsAt(body, 'TaskTemplate')) {
    for (const nets of fieldValues(t, 'Networks')) {
      if (!Array.isArray(nets)) continue;
      for (const n of nets) for (const target of fieldValues(n, 'Target')) if (typeof target === 'string' && target.trim() === 'host') out.push({ rule: 'host_network', field: 'TaskTemplate.Networks.Target', value: target });
    }
  }
  return out;
}
