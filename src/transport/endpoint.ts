import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { getEndpointFromInstructions } from '@smithy/core/endpoints'
import type { AwsCredentialIdentity } from '@smithy/types'
import { COMMAND_CLASSES, type FastOperation } from './operations.js'

/** Where and how to sign one request, as the SDK's endpoint middleware would have decided. */
export interface ResolvedEndpoint {
  readonly url: URL
  /** `url.origin`, computed once. */
  readonly origin: string
  /** Headers the endpoint rules or a custom endpoint add. */
  readonly headers: Readonly<Record<string, string>>
  readonly signingRegion: string
  readonly signingName: string
}

interface AuthScheme { name?: string, signingRegion?: string, signingName?: string }

type ClientConfig = DynamoDBClient['config']

/** The signing region and service when the endpoint rules name none (DynamoDB's usually do not). */
async function defaultSigning (config: ClientConfig): Promise<{ signingRegion: string, signingName: string }> {
  const extra = config as unknown as { signingName?: string, defaultSigningName?: string }
  return { signingRegion: await config.region(), signingName: extra.signingName ?? extra.defaultSigningName ?? 'dynamodb' }
}

/** One header value per name, as the signer and undici take them. */
function flatHeaders (headers: Record<string, string[] | string> | undefined): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value
  return flat
}

/**
 * Resolves endpoints with the client's own resolver (`config.endpointProvider` through the SDK's
 * `getEndpointFromInstructions` and the command class's parameter instructions), cached per operation, table and
 * identity account: account-ID endpoints depend on the identity's `accountId`, so a new identity resolves anew.
 */
export class EndpointResolver {
  readonly #config: ClientConfig
  readonly #cache = new Map<string, Promise<ResolvedEndpoint>>()
  /** The settled entries of #cache, per operation and table, for a synchronous lookup. */
  readonly #settled = new Map<FastOperation, Map<string, ResolvedEndpoint>>()
  #identity: AwsCredentialIdentity | undefined

  constructor (config: ClientConfig) {
    this.#config = config
  }

  /** The endpoint already resolved for this operation, table and identity, if any (no await). */
  cached (
    operation: FastOperation,
    input: { TableName?: string | undefined },
    identity: AwsCredentialIdentity
  ): ResolvedEndpoint | undefined {
    return identity === this.#identity ? this.#settled.get(operation)?.get(input.TableName ?? '') : undefined
  }

  async resolve (
    operation: FastOperation,
    input: { TableName?: string | undefined },
    identity: AwsCredentialIdentity
  ): Promise<ResolvedEndpoint> {
    if (identity !== this.#identity) {
      // A refreshed identity may carry another account id: keep no endpoint decided for the previous one.
      this.#cache.clear()
      this.#settled.clear()
      this.#identity = identity
    }
    const table = input.TableName ?? ''
    const key = `${operation}\u0000${table}`
    let resolved = this.#cache.get(key)
    if (resolved === undefined) {
      const pending = this.#resolveNow(operation, input, identity)
      resolved = pending
      this.#cache.set(key, pending)
      pending.then((endpoint) => {
        // Only while this resolution is still the cached one (a new identity clears the cache).
        if (this.#cache.get(key) !== pending) return
        let byTable = this.#settled.get(operation)
        if (byTable === undefined) this.#settled.set(operation, byTable = new Map())
        byTable.set(table, endpoint)
      }, () => { if (this.#cache.get(key) === pending) this.#cache.delete(key) })
    }
    return await resolved
  }

  async #resolveNow (operation: FastOperation, input: object, identity: AwsCredentialIdentity): Promise<ResolvedEndpoint> {
    // A copy, as the SDK's endpoint middleware passes (resolution may record an endpoint found in shared config),
    // with the identity of this request: its account id must be the one the request is signed with.
    const config = { ...this.#config, credentials: async () => identity }
    const endpoint = await getEndpointFromInstructions(input, COMMAND_CLASSES[operation], config as never)
    const scheme = (endpoint.properties?.authSchemes as AuthScheme[] | undefined)?.find((s) => s.name === 'sigv4')
    const fallback = await defaultSigning(this.#config)
    return {
      url: endpoint.url,
      origin: endpoint.url.origin,
      headers: flatHeaders(endpoint.headers),
      signingRegion: scheme?.signingRegion ?? fallback.signingRegion,
      signingName: scheme?.signingName ?? fallback.signingName
    }
  }
}
