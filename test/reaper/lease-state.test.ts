import t from 'tap'
import { decodeState, encodeState, tableStateOf, type LeaseState } from '../../src/reaper/lease-state.js'
import { emptyReport } from '../../src/reaper/report.js'

t.test('state round-trips, and anything malformed is dropped', async (t) => {
  const state: LeaseState = {
    lastSuccessAt: 100,
    lastReport: { ...emptyReport('success', 2), deleted: 3, finishedAt: 100 },
    table: { active: 1, expiredFound: 2, expiredBacklog: 1, invalid: 3, maxLagSeconds: 4, completedAt: 100 },
    sweep: { finder: 'scan', streams: 2, cursors: [{ done: true }, { done: false, start: { Sesion_Id: { S: 'x' } } }], startedAt: 90, active: 1, expired: 3, deleted: 2, conflicts: 1, invalid: 0, maxLagSeconds: 0, backfilled: 0, missing: 0 }
  }
  t.strictSame(decodeState(encodeState(state)), state)
  t.strictSame(decodeState(undefined), {})
  t.strictSame(decodeState('not json'), {})
  t.strictSame(decodeState('[1,2]'), {})
  t.strictSame(decodeState(JSON.stringify({ lastSuccessAt: 'yesterday', table: { active: 1 }, lastReport: { result: 'maybe' } })), {})
  t.strictSame(decodeState(JSON.stringify({ lastReport: { ...emptyReport('success'), finishedAt: 'x' } })), {})
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, cursors: [{ done: true }] } })), {}, 'cursor count must match the streams')
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, cursors: [{ done: true }, { done: 'no' }] } })), {})
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, cursors: [{ done: true }, { done: false, start: 'x' }] } })), {})
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, cursors: [{ done: true }, { done: false }] } })).sweep?.cursors[1], { done: false, start: undefined })
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, cursors: [{ done: true }, 7] } })), {})
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, startedAt: null } })), {})
  t.strictSame(decodeState(JSON.stringify({ sweep: 'x' })), {})
  const { finder: _finder, ...older } = state.sweep!
  t.strictSame(decodeState(JSON.stringify({ sweep: older })), {}, 'a sweep that does not say which finder wrote it')
  t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, deleted: undefined } })), {})
  for (const start of [{ Sesion_Id: 'x' }, { Sesion_Id: { S: 1 } }, { Sesion_Id: { S: 'x', N: '1' } }, { Sesion_Id: { M: {} } }, { Sesion_Id: null }]) {
    t.strictSame(decodeState(JSON.stringify({ sweep: { ...state.sweep, cursors: [{ done: true }, { done: false, start }] } })), {}, `cursor ${JSON.stringify(start)}`)
  }
  t.strictSame(tableStateOf(state), { lastSuccessAt: 100, sweep: state.table })
})
