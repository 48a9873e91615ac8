// `node --import <this file>`: the process behaves as if dynalite were not installed (a project without it).
import { register } from 'node:module'

register('./no-dynalite-hooks.mjs', import.meta.url)
