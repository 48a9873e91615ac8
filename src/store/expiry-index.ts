import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import type { ExpiryIndexShape } from '../options.js'
import { bucketOf } from '../expiry.js'

/*
 * What a session row carries for the expiry index (a KEYS_ONLY global secondary index): its shard, the index's
 * partition key, a hash of the id written once at creation and never changed; and its bucket, the sort key, rewritten
 * by every write from the expiry it sets (store/commands.ts). Only these two attributes and the table key are in the
 * index, so a write that leaves both unchanged costs no index write. Rows without them (tombstones, the lease item,
 * rows of other software) are not in the index.
 */

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** The shard of a session id: FNV-1a (32 bits) of its UTF-16 code units, modulo `shards`. Stable across versions. */
export function shardOf (id: string, shards: number): number {
  let hash = FNV_OFFSET
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i)
    hash = Math.imul(hash, FNV_PRIME) >>> 0
  }
  return hash % shards
}

/** The index attributes of a new row whose expiry is `expiresAt`. */
export function indexItemAttributes (index: ExpiryIndexShape, id: string, expiresAt: number): Record<string, AttributeValue> {
  return {
    [index.shardAttribute]: { N: String(shardOf(id, index.shards)) },
    [index.attribute]: { N: String(bucketOf(expiresAt, index.bucketSeconds)) }
  }
}

/**
 * The SET clauses, names and values an UpdateItem that sets the expiry to `expiresAt` adds: the bucket from that
 * expiry, and the shard only where the row has none (a row of an older version or of other software).
 */
export function indexUpdateParts (index: ExpiryIndexShape, id: string, expiresAt: number): {
  sets: string[]
  names: Record<string, string>
  values: Record<string, AttributeValue>
} {
  return {
    sets: ['#bucket = :bucket', '#shard = if_not_exists(#shard, :shard)'],
    names: { '#bucket': index.attribute, '#shard': index.shardAttribute },
    values: {
      ':bucket': { N: String(bucketOf(expiresAt, index.bucketSeconds)) },
      ':shard': { N: String(shardOf(id, index.shards)) }
    }
  }
}
