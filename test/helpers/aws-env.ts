/** The AWS_* variables the SDK reads; tests that build the default client control all of them. */
export const AWS_VARS = [
  'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE',
  'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_MAX_ATTEMPTS', 'AWS_RETRY_MODE', 'AWS_EC2_METADATA_DISABLED'
] as const
export type AwsVar = (typeof AWS_VARS)[number]

interface Teardown { teardown (fn: () => unknown): void }

/**
 * Saves the AWS_* variables now and restores them at teardown; returns a function that sets a clean AWS environment
 * (static test credentials, no shared config files, no instance metadata) plus `vars`.
 */
export function controlAwsEnv (t: Teardown): (vars?: Partial<Record<AwsVar, string>>) => void {
  const saved = Object.fromEntries(AWS_VARS.map((v) => [v, process.env[v]]))
  t.teardown(() => {
    for (const v of AWS_VARS) {
      if (saved[v] === undefined) delete process.env[v]
      else process.env[v] = saved[v]
    }
  })
  return (vars = {}) => {
    for (const v of AWS_VARS) delete process.env[v]
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      AWS_EC2_METADATA_DISABLED: 'true'
    }, vars)
  }
}
