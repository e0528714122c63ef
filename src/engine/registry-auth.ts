/** Registry credentials as the image operations take them. */
export interface RegistryCredentials {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
}

/**
 * The X-Registry-Auth header: base64url of the JSON, WITH padding. The Engine
 * silently ignores a header it cannot decode and pulls anonymously, which
 * turns a private pull into a confusing "not found".
 */
export function encodeRegistryAuth(creds: RegistryCredentials): string {
  const body: Record<string, string> = {};
  if (creds.identitytoken) body.identitytoken = creds.identitytoken;
  else {
    if (creds.username !== undefined) body.username = creds.username;
    if (creds.password !== undefined) body.password = creds.password;
  }
  if (creds.serveraddress) body.serveraddress = creds.serveraddress;
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The map form of X-Registry-Config (build), same encoding. */
export function encodeRegistryConfig(map: Record<string, RegistryCredentials>): string {
  return Buffer.from(JSON.stringify(map), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
