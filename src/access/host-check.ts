import { isIP } from 'node:net';
import { ConnectorError } from '../errors.js';
import { isLoopback } from './listener.js';

/**
 * DNS-rebinding and cross-origin protection for the listeners (the HTTP
 * service and the MCP server over HTTP), whatever their auth mode.
 *
 * A page on attacker.example can point that name at 127.0.0.1 and have the
 * browser call a local listener "same-origin": the request then carries
 * `Host: attacker.example:PORT`. A page can also call http://127.0.0.1:PORT
 * directly: the browser sends its `Origin`, and a POST without a body needs
 * no CORS preflight, so its effect happens even though the page cannot read
 * the answer. Hence: the Host must name this listener, and an Origin, when
 * sent, must be one of the allowed hosts.
 *
 * Why not the MCP SDK's own check: StreamableHTTPServerTransport's
 * `allowedHosts`/`allowedOrigins` compare exact strings (Host with its port,
 * so not the whole of 127.0.0.0/8, nor a port chosen at listen time), answer
 * in JSON-RPC, and run inside the transport, after authentication; its
 * `hostHeaderValidation` is an Express middleware that checks Host only.
 * Neither fits the fastify service, and the check must be one for both.
 */

export interface HostCheckOptions {
  /** The host part of the listen address (a name or an IP; "0.0.0.0"/"::" listen everywhere). */
  listenHost: string;
  /** Further names (or IPs) clients use to reach the listener: a DNS name, a reverse proxy's name. */
  allowedHosts: readonly string[];
}

/** Returns the refusal for a request's Host and Origin headers, or undefined when they are allowed. */
export type HostCheck = (host: string | undefined, origin: string | undefined) => ConnectorError | undefined;

/** Lower-case hostname of a Host header or an origin, brackets of an IPv6 literal removed; undefined when unparsable. */
export function hostnameOf(value: string): string | undefined {
  if (value === '') return undefined;
  try {
    const h = new URL(value.includes('://') ? value : `http://${value}`).hostname;
    return h.replace(/^\[|\]$/g, '').toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * True for names and addresses only this machine can reach, as a Host header
 * names them: what `isLoopback` accepts for a listen address, plus any
 * *.localhost name (browsers resolve them all to loopback) and the hex form
 * of an IPv4-mapped loopback address (::ffff:7f00:1).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return isLoopback(h) || h.endsWith('.localhost') || (isIP(h) === 6 && /^::ffff:7f[0-9a-f]{2}:/.test(h));
}

/** True when the Origin names the host and port the request was sent to (a page of this listener, e.g. /docs). */
function sameOrigin(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** Past this many distinct header values the cache of allowed ones is emptied (a flood of odd Hosts must not grow memory). */
const CACHE_LIMIT = 256;

export function createHostCheck(o: HostCheckOptions): HostCheck {
  const named = new Set<string>();
  for (const h of o.allowedHosts) {
    const n = hostnameOf(h.trim());
    if (n) named.add(n);
  }
  const listen = o.listenHost.replace(/^\[|\]$/g, '').toLowerCase();
  const wildcard = isWildcard(listen);
  if (!wildcard) named.add(listen);

  /** A name this listener answers to (as an Origin too). */
  const allowedName = (h: string) => isLoopbackHost(h) || named.has(h);
  /*
   * Listening on every address, the listener's own IPs are not known here;
   * an IP literal cannot be rebound (the browser's origin is then that IP
   * itself), so any is taken as Host. Names still have to be allowed.
   */
  const allowedHost = (h: string) => allowedName(h) || (wildcard && isIP(h) !== 0);

  // Host (and Origin) values seen before and allowed: most calls skip the parsing.
  const seen = new Set<string>();
  const remember = (key: string) => {
    if (seen.size >= CACHE_LIMIT) seen.clear();
    seen.add(key);
  };

  return (host, origin) => {
    const key = origin === undefined ? (host ?? '') : `${host ?? ''}\n${origin}`;
    if (seen.has(key)) return undefined;
    if (host === undefined || host === '') return new ConnectorError('FORBIDDEN', 'Missing Host header: this listener answers only requests that name it');
    const h = hostnameOf(host);
    if (!h || !allowedHost(h)) {
      return new ConnectorError(
        'FORBIDDEN',
        `Host "${host}" is not a name of this listener (loopback names${named.size ? `, ${[...named].join(', ')}` : ''}); add it to allowed_hosts if clients use it`,
        { details: { rule: 'allowed_hosts', host } },
      );
    }
    if (origin !== undefined) {
      // "null" is the Origin of sandboxed frames, file: pages and redirects: nothing to trust.
      const o = origin === 'null' ? undefined : hostnameOf(origin);
      if (!o || !(allowedName(o) || sameOrigin(origin, host))) {
        return new ConnectorError('FORBIDDEN', `Origin ${origin} may not call this listener (cross-origin browser calls are refused); add its host to allowed_hosts to allow it`, {
          details: { rule: 'allowed_hosts', origin },
        });
      }
    }
    remember(key);
    return undefined;
  };
}
