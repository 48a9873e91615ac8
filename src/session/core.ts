import type { JsonValue, SessionRecord } from '../store/json.js'
import type { OwnerRevocation } from '../store/owner-directory.js'

/**
 * What a Session stands for: the plugin's per-request controller (controller.ts), which also holds what only the
 * plugin's hooks may call. The public Session class delegates every member to it.
 */
export interface SessionCore {
  readonly id: string
  readonly isNew: boolean
  readonly expiresAt: Date
  readonly destroyed: boolean
  readonly degraded: boolean
  readonly owner: string | undefined
  readonly label: string | undefined
  get (key: string): JsonValue | undefined
  set (key: string, value: unknown): void
  delete (key: string): void
  data (): SessionRecord
  touch (): void
  save (): Promise<void>
  regenerate (): Promise<void>
  destroy (): Promise<void>
  cookieHeader (): Promise<string | undefined>
  setOwner (owner: string): void
  setLabel (label: string): void
  destroyOthers (): Promise<OwnerRevocation>
}
