/**
 * Capacity arithmetic for calls whose response carries no ConsumedCapacity (the caller did not ask for it), by
 * DynamoDB's documented rules: an item's size is the sum of its attribute names and values; reads cost one unit per
 * 4 KB (half for eventually consistent reads, and a read of a missing item still costs the minimum); writes cost
 * one unit per 1 KB of the larger of the old and the new item.
 */

/** An AttributeValue in DynamoDB's JSON wire format. */
export type WireValue = Record<string, unknown>
export type WireItem = Record<string, WireValue>

function numberSize (n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length
  return Math.ceil(Math.max(digits, 1) / 2) + 1
}

export function valueSize (value: WireValue): number {
  const [type, v] = Object.entries(value)[0] ?? ['NULL', true]
  switch (type) {
    case 'S': return Buffer.byteLength(v as string)
    case 'N': return numberSize(v as string)
    case 'B': return Buffer.from(v as string, 'base64').length
    case 'BOOL': case 'NULL': return 1
    case 'SS': return (v as string[]).reduce((sum, s) => sum + Buffer.byteLength(s), 0)
    case 'NS': return (v as string[]).reduce((sum, s) => sum + numberSize(s), 0)
    case 'BS': return (v as string[]).reduce((sum, s) => sum + Buffer.from(s, 'base64').length, 0)
    case 'L': return 3 + (v as WireValue[]).reduce((sum, e) => sum + 1 + valueSize(e), 0)
    case 'M': return 3 + Object.entries(v as WireItem).reduce((sum, [k, e]) => sum + 1 + Buffer.byteLength(k) + valueSize(e), 0)
    default: return 0
  }
}

export function itemSize (item: WireItem): number {
  let size = 0
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value)
  return size
}

/** Read units of one GetItem: undefined size means the item was absent. */
export function readUnits (size: number | undefined, consistent: boolean): number {
  const units = Math.max(1, Math.ceil((size ?? 0) / 4096))
  return consistent ? units : units / 2
}

/** Write units of one put, update or delete: the larger of the item before and after, at least one. */
export function writeUnits (...sizes: Array<number | undefined>): number {
  const largest = Math.max(0, ...sizes.map((s) => s ?? 0))
  return Math.max(1, Math.ceil(largest / 1024))
}

/** Read units of a Scan or Query page: all evaluated items together, per 4 KB. */
export function scanUnits (totalSize: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(totalSize / 4096))
  return consistent ? units : units / 2
}
