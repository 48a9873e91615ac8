import { parseArgs } from 'node:util'

/** A command line that cannot work: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  /** Placeholder of the value in help, e.g. `name`. */
  arg?: string
  description: string
  /** Shown in help. The parser never applies it: a flag is in the values only when the command line gives it. */
  default?: string
}

export type FlagSpecs = Record<string, FlagSpec>

/** Inclusive bounds of a numeric flag; no `max` means no upper bound. */
export interface Bounds {
  readonly min: number
  readonly max?: number
}

/** Bounds of a decimal flag: above a value (exclusive) or from one (inclusive), and at most `max` when given. */
export type NumberBounds = ({ readonly above: number } | { readonly min: number }) & { readonly max?: number }

const DIGITS = /^\d+$/
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/

/** The flags of one command line, as given: absent flags are undefined, never defaulted. */
export class Flags {
  readonly #values: Readonly<Record<string, string | boolean | undefined>>

  constructor (values: Record<string, string | boolean | undefined>) {
    this.#values = Object.freeze({ ...values })
  }

  /** Whether the command line gives this flag (with any value, even the default's). */
  given (name: string): boolean {
    return this.#values[name] !== undefined
  }

  /** A boolean flag: true when given. */
  on (name: string): boolean {
    return this.#values[name] === true
  }

  /** The value of a string flag, or undefined when absent. */
  text (name: string): string | undefined {
    const value = this.#values[name]
    return typeof value === 'string' ? value : undefined
  }

  /** A non-empty string flag, or undefined when absent. */
  nonEmpty (name: string): string | undefined {
    const value = this.text(name)
    if (value === '') throw new UsageError(`--${name} must not be empty`)
    return value
  }

  /** An integer flag within `bounds`, or undefined when absent. */
  integer (name: string, bounds: Bounds): number | undefined {
    const text = this.text(name)
    if (text === undefined) return undefined
    const value = DIGITS.test(text) ? Number(text) : NaN
    if (!Number.isSafeInteger(value) || !within(value, bounds)) {
      throw new UsageError(`--${name} must be an integer ${range(bounds)}, got '${text}'`)
    }
    return value
  }

  /** A decimal number flag within `bounds` (`above` excludes its value, `min` includes it), or undefined when absent. */
  number (name: string, bounds: NumberBounds): number | undefined {
    const text = this.text(name)
    if (text === undefined) return undefined
    const value = DECIMAL.test(text) ? Number(text) : NaN
    const low = 'above' in bounds ? value > bounds.above : value >= bounds.min
    if (!Number.isFinite(value) || !low || (bounds.max !== undefined && value > bounds.max)) {
      const lower = 'above' in bounds ? `above ${bounds.above}` : `of at least ${bounds.min}`
      const upper = bounds.max !== undefined ? ` and at most ${bounds.max}` : ''
      throw new UsageError(`--${name} must be a number ${lower}${upper}, got '${text}'`)
    }
    return value
  }

  /** A string flag that must be one of `allowed`, or undefined when absent. */
  choice<T extends string> (name: string, allowed: readonly T[]): T | undefined {
    const text = this.text(name)
    if (text === undefined) return undefined
    if (!(allowed as readonly string[]).includes(text)) {
      throw new UsageError(`--${name} must be ${allowed.join(' or ')}, got '${text}'`)
    }
    return text as T
  }

  /** A comma-separated list flag whose items are each one of `allowed`, or undefined when absent. */
  list<T extends string> (name: string, allowed: readonly T[]): T[] | undefined {
    const text = this.text(name)
    if (text === undefined) return undefined
    const items = text.split(',').map((item) => item.trim()).filter((item) => item.length > 0)
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) {
        throw new UsageError(`--${name}: unknown ${item}; expected ${allowed.join(', ')}`)
      }
    }
    return items as T[]
  }
}

function within (value: number, bounds: Bounds): boolean {
  return value >= bounds.min && (bounds.max === undefined || value <= bounds.max)
}

function range (bounds: Bounds): string {
  return bounds.max === undefined ? `of at least ${bounds.min}` : `from ${bounds.min} to ${bounds.max}`
}

/** Pairs of flags that cannot be given together: `[a, b]` reads "--b applies only without --a". */
export type Exclusions = ReadonlyArray<readonly [string, string]>

/** Rejects what strict parseArgs would accept or word vaguely: stray arguments, unknown flags, values that look like flags. */
function checkTokens (args: string[], specs: FlagSpecs): void {
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, parserOption(spec)]))
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true })
  for (const token of tokens) {
    if (token.kind === 'positional') throw new UsageError(`unexpected argument '${token.value}'`)
    if (token.kind !== 'option') continue
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined
    if (spec === undefined) throw new UsageError(`unknown flag ${token.rawName}`)
    if (spec.type === 'boolean' && token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`)
    if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
      const placeholder = spec.arg !== undefined ? ` <${spec.arg}>` : ''
      throw new UsageError(`${token.rawName} needs a value${placeholder} (use ${token.rawName}=<value> for one starting with '-')`)
    }
  }
}

function parserOption (spec: FlagSpec): { type: 'string' | 'boolean', short?: string } {
  return { type: spec.type, ...(spec.short !== undefined ? { short: spec.short } : {}) }
}

/**
 * parseArgs, strict, with messages that name the flag. Defaults are not applied, so `given()` tells an explicit
 * flag from an absent one; flags given together against `exclusions` are a usage error.
 */
export function parseFlags (args: string[], specs: FlagSpecs, exclusions: Exclusions = []): Flags {
  checkTokens(args, specs)
  let values: Record<string, string | boolean | undefined>
  try {
    const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, parserOption(spec)]))
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const flags = new Flags(values)
  for (const [first, second] of exclusions) {
    if (flags.given(first) && flags.given(second)) throw new UsageError(`--${second} applies only without --${first}`)
  }
  return flags
}

/** Help lines for flags, aligned: `-h, --help   Show this help (default: …)`. */
export function flagRows (specs: FlagSpecs): Array<[string, string]> {
  return Object.entries(specs).map(([name, spec]) => {
    const left = `${spec.short !== undefined ? `-${spec.short}, ` : '    '}--${name}${spec.arg !== undefined ? ` <${spec.arg}>` : ''}`
    return [left, `${spec.description}${spec.default !== undefined ? ` (default: ${spec.default})` : ''}`]
  })
}

/** Two aligned columns, indented by two spaces. */
export function columns (rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n')
}
