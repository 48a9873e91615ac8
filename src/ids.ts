import { randomBytes } from 'node:crypto'

// Session ids: 24 random bytes, base64url, 192 bits.
const ID_BYTES = 24
// What a cookie may name: ours (32 characters) and other software's (UUIDs and the like), never an internal row.
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

/** The reaper's lease item's id. No cookie can name it ('#' is outside SESSION_ID_PATTERN). */
export const LEASE_ID = '#reaper-lease'

// The library's own rows, by exact id: another application's rows whose ids merely start with '#' stay sessions.
const INTERNAL_IDS: ReadonlySet<string> = new Set([LEASE_ID])

/** True for the library's own rows (the lease item): never read, deleted or counted as sessions. */
export function isInternalId (id: string): boolean {
  return INTERNAL_IDS.has(id)
}

export function newSessionId (): string {
  return randomBytes(ID_BYTES).toString('base64url')
}

export function isSessionId (value: string): boolean {
  return SESSION_ID_PATTERN.test(value)
}
