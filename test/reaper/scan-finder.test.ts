import t from 'tap'
import { ScanFinder, buildScanInput, isTableKey, parseScannedRow } from '../../src/reaper/scan-finder.js'
import { newProgress, resumable, type StartKey, type SweepProgress } from '../../src/reaper/sweep.js'
import { reaperOptions } from '../helpers/reaper.js'

const shape = reaperOptions('sessions')

t.test('a Scan page projects only the key, the expiry and the tombstone marker, through attribute names', async (t) => {
  t.strictSame(buildScanInput(shape, 0, 1, undefined, 25), {
    TableName: 'sessions',
    ProjectionExpression: '#id, #exp, #tomb',
    ExpressionAttributeNames: { '#id': 'Sesion_Id', '#exp': 'Expire_Session', '#tomb': 'Superseded_At' },
    Limit: 25
  })
  const start = { Sesion_Id: { S: 'abc' } }
  t.strictSame(buildScanInput(shape, 2, 4, start, 10), {
    TableName: 'sessions',
    ProjectionExpression: '#id, #exp, #tomb',
    ExpressionAttributeNames: { '#id': 'Sesion_Id', '#exp': 'Expire_Session', '#tomb': 'Superseded_At' },
    Limit: 10,
    Segment: 2,
    TotalSegments: 4,
    ExclusiveStartKey: start
  })
  const custom = reaperOptions('sessions')
  t.strictSame(buildScanInput({ ...custom, idAttribute: 'pk', expiresAttribute: 'ttl' }, 0, 1, undefined, 1).ExpressionAttributeNames, { '#id': 'pk', '#exp': 'ttl', '#tomb': 'Superseded_At' }, 'reserved words such as ttl are safe')
})

t.test('rows: the expiry counts only as a finite Number', async (t) => {
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '1700000000' } }), { id: 'a', expiresAt: 1_700_000_000, tombstone: false })
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '1.7e9' } }), { id: 'a', expiresAt: 1_700_000_000, tombstone: false })
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' }, Expire_Session: { S: '1700000000' } }), { id: 'a', expiresAt: undefined, tombstone: false }, 'a string, as TTL ignores it')
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' }, Expire_Session: { NULL: true } }), { id: 'a', expiresAt: undefined, tombstone: false })
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' } }), { id: 'a', expiresAt: undefined, tombstone: false }, 'missing')
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' }, Expire_Session: { N: 'abc' } }), { id: 'a', expiresAt: undefined, tombstone: false })
  t.strictSame(parseScannedRow(shape, { Expire_Session: { N: '1' } }), { id: '', expiresAt: 1, tombstone: false })
  t.strictSame(parseScannedRow(shape, { Sesion_Id: { S: 'a' }, Expire_Session: { N: '5' }, Superseded_At: { N: '1' } }), { id: 'a', expiresAt: 5, tombstone: true }, 'a tombstone')
})

t.test('a Scan cursor is exactly the table key; the cursor after a row is its key', async (t) => {
  const finder = new ScanFinder(shape, 2)
  t.equal(finder.kind, 'scan')
  t.strictSame(finder.after(1, { id: 'abc', expiresAt: 5 }), { Sesion_Id: { S: 'abc' } })
  t.equal(finder.isCursor({ Sesion_Id: { S: 'abc' } }), true)
  t.equal(isTableKey({ ...shape, idAttribute: 'pk' }, { pk: { S: 'abc' } }), true, 'under its configured name')
  const bad: unknown[] = [
    {},
    { Session_Id: { S: 'abc' } },
    { Sesion_Id: { N: '5' } },
    { Sesion_Id: { S: '' } },
    { Sesion_Id: { S: 'abc', N: '5' } },
    { Sesion_Id: { S: 'abc' }, Expire_Session: { N: '5' } },
    { Sesion_Id: 'abc' },
    { Sesion_Id: null }
  ]
  for (const start of bad) t.equal(finder.isCursor(start as StartKey), false, JSON.stringify(start))
})

t.test('saved progress resumes only with the finder that wrote it and cursors it accepts', async (t) => {
  const finder = new ScanFinder(shape, 2)
  const progress = newProgress(finder, 100)
  t.strictSame(progress.finder, 'scan')
  t.equal(resumable(finder, progress), progress)
  t.equal(resumable(finder, undefined), undefined)
  t.equal(resumable(new ScanFinder(shape, 3), progress), undefined, 'other streams')
  t.equal(resumable(finder, { ...progress, finder: 'expiry-index' }), undefined, 'another finder')
  const cursors = (start: StartKey): SweepProgress['cursors'] => [{ done: true }, { done: false, start }]
  t.equal(resumable(finder, { ...progress, cursors: cursors({ Sesion_Id: { S: 'x' } }) })?.finder, 'scan')
  t.equal(resumable(finder, { ...progress, cursors: cursors({ Sesion_Id: { N: '1' } }) }), undefined, 'a cursor that is not its key')
})
