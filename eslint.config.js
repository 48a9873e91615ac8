import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tap/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly' }
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off'
    }
  },
  {
    // 140 characters is the project's chosen line length; functions stay at 50 lines or fewer (blank lines and comments not counted).
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'max-len': ['error', { code: 140, ignoreUrls: true }],
      'max-lines-per-function': ['error', { max: 50, skipBlankLines: true, skipComments: true }]
    }
  },
  {
    // CommonJS examples (what `npm init -y` sets up) use require().
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  {
    // tap's t.same is loose ('7' equals 7): tests compare strictly.
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 't', property: 'same', message: 'use t.strictSame (t.same treats \'7\' and 7 as equal)' }]
    }
  }
)
