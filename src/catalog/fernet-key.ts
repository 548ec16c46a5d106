import {createHmac} from 'node:crypto'

/**
 * `{{ passwords.keystone_fernet_seed | fernet_key("0") }}`: a Fernet key (32 bytes, URL-safe base64
 * with padding, what `keystone-manage fernet_setup` writes) derived from a site secret and a key
 * name. Every control host renders the same keys, so a token one keystone issues every other one
 * accepts, without copying key files between hosts. The keys change only with the secret.
 */
export function fernetKey(secret: unknown, name: unknown): string {
  if (typeof secret !== 'string' || secret.length < 16) throw new Error('fernet_key needs a secret of at least 16 characters')
  return createHmac('sha256', secret).update(`osctl-fernet-key/${String(name)}`).digest('base64url') + '='
}
