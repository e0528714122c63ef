/**
 * The matching rules of the hunts (find_containers, find_images): pure
 * functions over what the Engine lists, so they are unit-tested without one.
 */
import picomatch from 'picomatch';

/** A glob compiled once; names and command names never hold "/", so "*" means "any characters". */
export function compileGlob(pattern: string): (value: string) => boolean {
  return picomatch(pattern, { dot: true });
}

/** True when picomatch can compile the pattern (a parameter check). */
export function isValidGlob(pattern: string): boolean {
  try {
    picomatch.makeRe(pattern, { dot: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * A substring every name the glob matches contains, as an Engine `name`
 * filter (a regular expression the Engine searches for in each name), so the
 * Engine lists fewer containers; the glob is checked afterwards anyway.
 * Only for globs made of name characters, "*" and "?": with brackets,
 * braces, extglobs or negation a literal run is not guaranteed to be in
 * every match, and then nothing is pushed to the Engine.
 */
export function nameFilterHint(glob: string): string | undefined {
  if (!/^[A-Za-z0-9_.*?-]+$/.test(glob)) return undefined;
  const longest = glob.split(/[*?]+/).reduce((a, b) => (b.length > a.length ? b : a), '');
  return longest ? longest.replace(/\./g, '\\.') : undefined;
}

/** Container names as people write them: the Engine's "/name" without the slash. */
export function containerNames(names: readonly string[] | null | undefined): string[] {
  return (names ?? []).map((n) => n.replace(/^\//, ''));
}

/**
 * The command name of a process, from its command line as `top` shows it
 * (the CMD column of Docker's `ps -ef`, COMMAND on Podman): the basename of
 * the first word, without the ":" programs such as nginx append when they
 * retitle themselves ("nginx: worker process") or the "-" of a login shell.
 */
export function commandName(commandLine: string): string {
  const first = commandLine.trim().split(/\s+/)[0] ?? '';
  const base = first.slice(first.lastIndexOf('/') + 1);
  return base.replace(/:$/, '').replace(/^-/, '');
}

const COMMAND_TITLE = /^(CMD|COMMAND|ARGS)$/i;

/**
 * The command line of each process of a `top` answer: the CMD column
 * (Docker's `ps -ef`) or COMMAND. Podman 4.3 runs the container's own `ps`
 * and answers one title "PID USER COMMAND" and one string per process: then
 * the columns are split on blanks (those before the command hold none).
 */
export function commandLines(titles: readonly string[], processes: readonly (readonly string[])[]): string[] {
  const col = titles.findIndex((t) => COMMAND_TITLE.test(t.trim()));
  if (col >= 0) return processes.map((row) => row[col] ?? '');
  const words = titles.join(' ').trim().split(/\s+/);
  const found = words.findIndex((w) => COMMAND_TITLE.test(w));
  const at = found >= 0 ? found : Math.max(0, words.length - 1);
  return processes.map((row) => row.join(' ').trim().split(/\s+/).slice(at).join(' '));
}

/** The first command name among `top`'s processes the glob matches, or undefined. */
export function matchingProcess(titles: readonly string[], processes: readonly (readonly string[])[], matches: (name: string) => boolean): string | undefined {
  for (const line of commandLines(titles, processes)) {
    const name = commandName(line);
    if (name && matches(name)) return name;
  }
  return undefined;
}

/** A label criterion: "key" (present, any value) or "key=value". */
export interface LabelSpec {
  key: string;
  value?: string;
  /** As given, for the Engine filter and the `matched` list. */
  text: string;
}

export function parseLabel(text: string): LabelSpec {
  const eq = text.indexOf('=');
  return eq < 0 ? { key: text, text } : { key: text.slice(0, eq), value: text.slice(eq + 1), text };
}

export function labelMatches(labels: Readonly<Record<string, string>> | null | undefined, spec: LabelSpec): boolean {
  if (!labels || !Object.hasOwn(labels, spec.key)) return false;
  return spec.value === undefined || labels[spec.key] === spec.value;
}

/** True when the container publishes `port` on its host (a list entry's Ports[].PublicPort; only running containers have any). */
export function publishesHostPort(ports: readonly { PublicPort?: number | null }[] | null | undefined, port: number): boolean {
  return (ports ?? []).some((p) => p.PublicPort === port);
}

/** A full digest on its own ("sha256:<64 hex>"): an image id or a manifest (repo) digest; the hunts look for both. */
export const BARE_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Image ids compared without the "sha256:" prefix (an Engine could leave it out). */
export function sameImageId(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  return a.replace(/^sha256:/, '') === b.replace(/^sha256:/, '');
}

/** True when the image is the digest: its id, or a "repo@digest" among its RepoDigests. */
export function imageHasDigest(image: { Id: string; RepoDigests?: readonly string[] | null }, digest: string): boolean {
  return sameImageId(image.Id, digest) || (image.RepoDigests ?? []).some((d) => d.slice(d.lastIndexOf('@') + 1) === digest);
}
