/** What is measured, and for how long, in each mode. */

export type ContestantId = 'limit' | 'floor' | 'plugin' | 'plugin-sdk' | 'session-dynamodb' | 'session-memory'
export type ScenarioId = 'anonymous' | 'read' | 'change' | 'login'
export type Mode = 'quick' | 'full'

export interface Contestant {
  readonly id: ContestantId
  readonly label: string
  readonly description: string
  /** Its own table (same key schema for all), or none for the in-memory store. */
  readonly tableName: string | undefined
}

export interface Scenario {
  readonly id: ScenarioId
  readonly label: string
  readonly description: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  /** Requests carry the cookie of one of the pre-created sessions, in rotation. */
  readonly withSession: boolean
}

export const CONTESTANTS: readonly Contestant[] = [
  {
    id: 'limit',
    label: 'limit (raw calls)',
    description: 'Bare Fastify routes doing the fewest raw DynamoDB calls each scenario needs' +
      ' (read: one GetItem for the id in an unsigned cookie)',
    tableName: 'BenchLimit'
  },
  {
    id: 'floor',
    label: 'floor (sign, send, parse)',
    description: 'Not a usable client: the same DynamoDB calls as the limit routes as prebuilt bodies, signed, sent over the' +
      " fast transport's undici exchange and parsed with JSON.parse, nothing else: the work no client can skip",
    tableName: 'BenchFloor'
  },
  {
    id: 'plugin',
    label: 'fastify-dynamo-session',
    description: 'This library with its defaults (a stock client: the fast transport)',
    tableName: 'ManejoSesion'
  },
  {
    id: 'plugin-sdk',
    label: 'fastify-dynamo-session (sdk transport)',
    description: "This library with transport: 'sdk': every call through the AWS SDK's client.send()",
    tableName: 'ManejoSesionSdk'
  },
  {
    id: 'session-dynamodb',
    label: '@fastify/session + connect-dynamodb',
    description: '@fastify/session (saveUninitialized: false, rolling: true) with connect-dynamodb as its store',
    tableName: 'BenchConnectDynamodb'
  },
  {
    id: 'session-memory',
    label: '@fastify/session (memory)',
    description: '@fastify/session with its in-memory store: no database at all',
    tableName: undefined
  }
]

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'anonymous',
    label: 'anonymous',
    description: 'GET without a cookie on a route that does not use the session',
    method: 'GET',
    path: '/anon',
    withSession: false
  },
  {
    id: 'read',
    label: 'read session',
    description: 'GET with the cookie of an existing session; the route reads one key',
    method: 'GET',
    path: '/read',
    withSession: true
  },
  {
    id: 'change',
    label: 'change session',
    description: 'POST with the cookie of an existing session; the route changes one key',
    method: 'POST',
    path: '/change',
    withSession: true
  },
  {
    id: 'login',
    label: 'login',
    description: 'POST without a cookie; the route creates a session with three keys',
    method: 'POST',
    path: '/login',
    withSession: false
  }
]

export interface ReaperCase {
  readonly rows: number
  readonly expiredFraction: number
  readonly segments: number
}

export interface Settings {
  /** autocannon connections. */
  readonly connections: number
  /**
   * Offered load in requests a second over all connections, the same for every contestant, or undefined for as fast
   * as each goes. At full speed a contestant's rate is set by dynalite's speed on its calls, and an app's CPU per
   * request rises as its rate falls (fewer events per wake-up): a fixed rate compares CPU at equal work.
   */
  readonly rate?: number | undefined
  /**
   * Each round runs every scenario for every contestant once, contestants back to back within a scenario (their
   * order rotating by round), so that a change in the machine's background load hits them alike.
   */
  readonly rounds: number
  /** Unmeasured run before the first measured one of each contestant × scenario (JIT, connection pools); 0 for none. */
  readonly warmupSeconds: number
  /** Length of each measured run. */
  readonly durationSeconds: number
  /** Sessions created before the read and change scenarios; requests rotate through their cookies. */
  readonly sessionPool: number
  readonly ttlSeconds: number
  readonly reaper: {
    readonly rows: readonly number[]
    readonly expiredFractions: readonly number[]
    readonly segments: readonly number[]
  }
}

export const SETTINGS: Readonly<Record<Mode, Settings>> = {
  full: {
    connections: 10,
    rounds: 3,
    warmupSeconds: 3,
    durationSeconds: 5,
    sessionPool: 100,
    ttlSeconds: 300,
    reaper: { rows: [10_000, 100_000], expiredFractions: [0.01, 0.5], segments: [1, 4] }
  },
  // Checks the harness and gives a first idea in under two minutes; the figures are noisier than a full run's.
  quick: {
    connections: 10,
    rounds: 1,
    warmupSeconds: 2,
    durationSeconds: 2,
    sessionPool: 20,
    ttlSeconds: 300,
    reaper: { rows: [1_000, 5_000], expiredFractions: [0.01, 0.5], segments: [1, 4] }
  }
}

/** A reaper pass stops after this long whatever it has left (the runner then reports the shortfall). */
export const PASS_LIMIT_SECONDS = 900

/** The contestants the ratios compare the plugin with. */
export const BASELINE: ContestantId = 'limit'
export const ALTERNATIVE: ContestantId = 'session-dynamodb'
/** The work no client can skip (see bench/contestants/floor.ts): a lower bound for any transport's app CPU. */
export const FLOOR: ContestantId = 'floor'
/** The plugin on the SDK's own pipeline, compared with the same baseline. */
export const SDK_TRANSPORT: ContestantId = 'plugin-sdk'
