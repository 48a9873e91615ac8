import t from 'tap'
import {
  REAPER_OPERATIONS, STORE_OPERATIONS, billedUnits, isRead, type ReaperOperation, type StoreOperation
} from '../src/instrumentation.js'

t.test('billedUnits: what DynamoDB reported, else one unit for a failed conditional write, else nothing', async (t) => {
  t.equal(billedUnits({ TableName: 'x', CapacityUnits: 2.5 }, 'success', 'Scan'), 2.5, 'reported units')
  t.equal(billedUnits({ TableName: 'x', CapacityUnits: 3 }, 'conflict', 'PutItem'), 3, 'reported units win')
  for (const operation of ['PutItem', 'UpdateItem', 'DeleteItem'] as const) {
    t.equal(billedUnits(undefined, 'conflict', operation), 1, `${operation}: a failed condition bills one unit`)
    t.equal(billedUnits(undefined, 'error', operation), 0, `${operation}: an error costs nothing known`)
  }
  for (const operation of ['GetItem', 'Scan', 'Query'] as const) {
    t.equal(billedUnits(undefined, 'conflict', operation), 0, `${operation}: a read has no condition to fail`)
  }
  t.equal(billedUnits(undefined, 'success', 'GetItem'), 0, 'nothing reported, nothing counted')
})

t.test('isRead: the operations billed in read units', async (t) => {
  const operations = new Set<StoreOperation | ReaperOperation>([...STORE_OPERATIONS, ...REAPER_OPERATIONS])
  t.strictSame([...operations].filter(isRead).sort(), ['BatchGetItem', 'GetItem', 'Query', 'Scan'])
})

t.test('regression: REAPER_OPERATIONS holds every ReaperOperation, Query included', async (t) => {
  const all: Record<ReaperOperation, true> = { Scan: true, Query: true, DeleteItem: true, GetItem: true, UpdateItem: true }
  t.strictSame([...REAPER_OPERATIONS].sort(), Object.keys(all).sort())
})
