import t from 'tap'
import { startEmbeddedDynamo, type DynaliteLoader } from '../src/embedded.js'

// A module name that is not installed: the loader fails the way `import('dynalite')` fails without dynalite.
const MISSING = 'fastify-dynamo-session-test-no-such-module'
const importMissing: DynaliteLoader = async () => await import(MISSING) as Awaited<ReturnType<DynaliteLoader>>

t.test('regression: without dynalite, startEmbeddedDynamo fails with the install hint code', async (t) => {
  const err = await startEmbeddedDynamo({}, importMissing).then(() => undefined, (e: unknown) => e) as
    (Error & { code: string, cause?: unknown }) | undefined
  t.equal(err?.code, 'FST_DYNAMO_SESSION_DYNALITE_MISSING')
  t.match(err?.cause, { message: new RegExp(MISSING) }, 'the import error is the cause')
  t.match(err?.message, /npm install -D dynalite/, 'the message says how to install it')
})

t.test('with dynalite installed (the default loader) a server starts and stops', async (t) => {
  const dynamo = await startEmbeddedDynamo()
  t.match(dynamo.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(dynamo.endpoint, `http://127.0.0.1:${dynamo.port}`)
  await dynamo.close()
  t.equal(dynamo.server.listening, false)
})
