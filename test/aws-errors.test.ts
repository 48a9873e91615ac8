import t from 'tap'
import { describeError } from '../src/aws-errors.js'

t.test('describeError keeps to one line and prefers the error code', async (t) => {
  t.equal(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })), 'connect ECONNREFUSED 127.0.0.1:9')
  t.equal(describeError(Object.assign(new Error('first\nsecond'), { name: 'ThrottlingException' })), 'ThrottlingException: first')
  t.equal(describeError(new AggregateError([Object.assign(new Error('inner'), { code: 'EHOSTUNREACH' })], '')), 'EHOSTUNREACH: inner')
  t.equal(describeError('plain'), 'plain')
})
