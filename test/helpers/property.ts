import fc from 'fast-check'

/** Replays a property from this seed (fast-check prints it when a property fails). */
export const SEED_VARIABLE = 'FC_SEED'
/** With FC_SEED, replays only this counterexample path (fast-check prints it too), e.g. "12:0:3". */
export const PATH_VARIABLE = 'FC_PATH'

/** The seed and path to replay, from FC_SEED and FC_PATH; nothing when FC_SEED is unset (a random seed). */
export function replayParameters (env: NodeJS.ProcessEnv = process.env): { seed?: number, path?: string } {
  const seedText = env[SEED_VARIABLE]?.trim() ?? ''
  const path = env[PATH_VARIABLE]?.trim() ?? ''
  if (seedText === '') {
    if (path !== '') throw new Error(`${PATH_VARIABLE} needs ${SEED_VARIABLE}: replay with both values of the failure message`)
    return {}
  }
  if (!/^-?\d+$/.test(seedText) || !Number.isSafeInteger(Number(seedText))) throw new Error(`${SEED_VARIABLE}: expected an integer, got '${seedText}'`)
  if (path !== '' && !/^\d+(:\d+)*$/.test(path)) throw new Error(`${PATH_VARIABLE}: expected a path like 12:0:3, got '${path}'`)
  return path === '' ? { seed: Number(seedText) } : { seed: Number(seedText), path }
}

/**
 * fc.assert for the suite: reads FC_SEED / FC_PATH (so a failure can be replayed), and on failure ends the message
 * with the environment that replays it.
 */
export async function assertProperty<Ts> (property: fc.IAsyncProperty<Ts>, params: fc.Parameters<Ts> = {}, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const details = await fc.check(property, { ...params, ...replayParameters(env) })
  if (!details.failed) return
  const report = await fc.asyncDefaultReportMessage(details) ?? 'property failed'
  const replay = details.counterexamplePath === null
    ? `${SEED_VARIABLE}=${details.seed}`
    : `${SEED_VARIABLE}=${details.seed} ${PATH_VARIABLE}=${details.counterexamplePath}`
  const error = new Error(`${report}\n\nReplay: ${replay} npx tap <this test file> (add --grep to run this test only)`)
  error.cause = details.errorInstance
  throw error
}
