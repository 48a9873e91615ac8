import { randomBytes } from 'node:crypto'

// Session ids: 24 random bytes, base64url, 192 bits.
const ID_BYTES = 24
// What a cookie may name: ours (32 characters) and other software's (UUIDs and the like), never an internal row.
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

/** The reaper's lease item's id (lease group 0). No cookie can name it ('#' is outside SESSION_ID_PATTERN). */
export const LEASE_ID = '#reaper-lease'

/** Lease groups (`reaper.leases`) have ids `#reaper-lease` (group 0) and `#reaper-lease-<group>` below this many. */
export const MAX_LEASE_GROUPS = 1000

const GROUP_PREFIX = LEASE_ID + '-'

/** The lease item of lease group `group` (0 keeps the id of a single lease, so existing tables keep their state). */
export function leaseId (group: number): string {
  return group === 0 ? LEASE_ID : GROUP_PREFIX + String(group)
}

/** The group a lease id names (written as leaseId() writes it, below MAX_LEASE_GROUPS), or undefined. */
function leaseGroupOf (id: string): number | undefined {
  if (id === LEASE_ID) return 0
  if (!id.startsWith(GROUP_PREFIX)) return undefined
  const digits = id.slice(GROUP_PREFIX.length)
  const group = Number(digits)
  return /^[1-9][0-9]*$/.test(digits) && group < MAX_LEASE_GROUPS ? group : undefined
}

/**
 * True for the library's own rows (the lease items), by exact id: never read, deleted or counted as sessions.
 * Another application's rows whose ids merely start with '#' stay sessions.
 */
export function isInternalId (id: string): boolean {
  return leaseGroupOf(id) !== undefined
}

export function newSessionId (): string {
  return randomBytes(ID_BYTES).toString('base64url')
}

export function isSessionId (value: string): boolean {
  return SESSION_ID_PATTERN.test(value)
}
