import createError from '@fastify/error'

/**
 * Every error the library throws. Test and branch on `err.code`, never on the message.
 * The README's "Error codes" table lists them all.
 */

/** An option has the wrong type or value. The message names the option and what was received. */
export const InvalidOptionError = createError(
  'FST_DYNAMO_SESSION_INVALID_OPTION',
  'Invalid option %s: expected %s, got %s',
  500,
  TypeError
)

/** An option the library does not know (often a typo). */
export const UnknownOptionError = createError(
  'FST_DYNAMO_SESSION_UNKNOWN_OPTION',
  'Unknown option %s (known options: %s)',
  500,
  TypeError
)

/** The secret is missing or too weak. The message never contains the secret itself. */
export const InvalidSecretError = createError(
  'FST_DYNAMO_SESSION_INVALID_SECRET',
  'Invalid option secret: %s',
  500,
  TypeError
)

/** The DynamoDB client has no region configured (set AWS_REGION or pass a client). */
export const MissingRegionError = createError(
  'FST_DYNAMO_SESSION_MISSING_REGION',
  'No AWS region is configured for the DynamoDB client: set AWS_REGION or pass a configured client',
  500
)

/** A value passed to session.set() cannot be stored as JSON. */
export const NotSerializableError = createError(
  'FST_DYNAMO_SESSION_NOT_SERIALIZABLE',
  'Session value for key %s is not JSON-compatible: %s',
  500,
  TypeError
)

/** A session key is not a non-empty string. */
export const InvalidKeyError = createError(
  'FST_DYNAMO_SESSION_INVALID_KEY',
  'Session keys must be non-empty strings of at most %s characters, got %s',
  500,
  TypeError
)

/** The session would exceed DynamoDB's 400 KB item limit; nothing was sent or changed. */
export const SessionTooLargeError = createError(
  'FST_DYNAMO_SESSION_TOO_LARGE',
  'Session would be about %s bytes, over the item limit of %s bytes; the change was not applied',
  500,
  RangeError
)

/** The session was used after destroy(). */
export const SessionDestroyedError = createError(
  'FST_DYNAMO_SESSION_DESTROYED',
  'The session was destroyed in this request; call regenerate() before using it again',
  500
)

/** A write found the session destroyed or expired meanwhile; the change was not stored and nothing was resurrected. */
export const SessionGoneError = createError(
  'FST_DYNAMO_SESSION_GONE',
  'The session ended (destroyed or expired) before this change could be saved',
  409
)

/** DynamoDB could not be reached or failed while loading a session. */
export const StoreUnavailableError = createError(
  'FST_DYNAMO_SESSION_STORE_UNAVAILABLE',
  'The session store is unavailable: %s',
  503
)

/**
 * The reply was hijacked (or answered through `reply.raw`), so the plugin can no longer set the cookie that storing a
 * new session, `regenerate()` or `destroy()` needs; nothing was changed. Deliver the cookie with
 * `session.cookieHeader()` before writing the headers.
 */
export const SessionHijackedError = createError(
  'FST_DYNAMO_SESSION_HIJACKED',
  'The reply was hijacked: the session cookie cannot be set (%s);' +
    ' call session.cookieHeader() and set it on reply.raw before writing the headers',
  500
)

/** DynamoDB failed while saving a session; the change may not have been stored. */
export const SaveFailedError = createError(
  'FST_DYNAMO_SESSION_SAVE_FAILED',
  'The session could not be saved: %s',
  503
)

/** `session.setOwner()` got something other than a non-empty string of at most 256 characters. The value is never shown. */
export const InvalidOwnerError = createError(
  'FST_DYNAMO_SESSION_INVALID_OWNER',
  'Invalid session owner: expected a non-empty string of at most %s characters, got %s',
  500,
  TypeError
)

/** `session.setLabel()` got something other than a string of at most 256 characters. */
export const InvalidLabelError = createError(
  'FST_DYNAMO_SESSION_INVALID_LABEL',
  'Invalid session label: expected a string of at most %s characters, got %s',
  500,
  TypeError
)

/**
 * The owner methods need the owner index: the plugin runs with `ownerIndex: false`, or the table lacks the index.
 * `dynamo-session init` adds it (see docs/sessions-of-a-user.md).
 */
export const NoOwnerIndexError = createError(
  'FST_DYNAMO_SESSION_NO_OWNER_INDEX',
  'Sessions of a user need the owner index (%s): %s; run `dynamo-session init` to add it (see docs/sessions-of-a-user.md)',
  500
)

/** The table exists with a key schema this library cannot use, or could not be created. */
export const TableSetupError = createError(
  'FST_DYNAMO_SESSION_TABLE_SETUP',
  'Session table %s: %s',
  500
)

/**
 * The startup check (`verifyTable`): the table does not exist at that endpoint and region. The message names them and
 * the `dynamo-session init` command that creates the table.
 */
export const TableMissingError = createError(
  'FST_DYNAMO_SESSION_TABLE_MISSING',
  'Session table %s does not exist: create it with `%s`, or set createTable',
  500
)

/**
 * The startup check (`verifyTable`): DynamoDB could not be called for want of usable credentials (none found, an
 * unknown access key, an expired token). The message names the table, endpoint and region.
 */
export const MissingCredentialsError = createError(
  'FST_DYNAMO_SESSION_MISSING_CREDENTIALS',
  'No usable AWS credentials to reach session table %s: %s. Configure credentials ' +
    '(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role) or pass a configured client',
  500
)

/**
 * The startup check (`verifyTable`) with `onStoreError: 'fail'`: DynamoDB could not be reached or kept failing
 * (refused or timed-out connections, 5xx, throttling). With `'anonymous'` the app starts and this is only logged.
 */
export const StoreUnreachableError = createError(
  'FST_DYNAMO_SESSION_STORE_UNREACHABLE',
  'Could not check session table %s: %s',
  500
)

/** The reaper's lease was taken over by another instance (after this one failed to renew it in time); the pass stopped. */
export const ReaperLeaseLostError = createError(
  'FST_DYNAMO_SESSION_REAPER_LEASE_LOST',
  "The reaper's lease was taken over by another instance; this pass stopped",
  500
)

/**
 * `runOnce({ tick })` got a tick more than an hour from the reaper's clock (epoch microseconds or seconds instead of
 * milliseconds, or a clock far off): the pass did not run and reports `failure`; this error is logged.
 */
export const ReaperTickOutOfRangeError = createError(
  'FST_DYNAMO_SESSION_REAPER_TICK_OUT_OF_RANGE',
  'Reaper tick %s is more than %s ms from now (%s): expected epoch milliseconds near now; the pass did not run',
  500,
  RangeError
)

/** The metrics registry already holds a metric of this name (two plugins registered on one registry?). */
export const MetricsConflictError = createError(
  'FST_DYNAMO_SESSION_METRICS_CONFLICT',
  'The metrics registry already has a metric named %s: give each plugin instance its own registry',
  500
)

/**
 * The embedded DynamoDB-compatible server (the demo, `startEmbeddedDynamo`) needs dynalite, an optional peer
 * dependency that is not installed.
 */
export const DynaliteMissingError = createError(
  'FST_DYNAMO_SESSION_DYNALITE_MISSING',
  'dynalite is not installed: run `npm install -D dynalite`, or set AWS_ENDPOINT_URL_DYNAMODB to use another endpoint',
  500
)
