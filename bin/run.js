#!/usr/bin/env node
// DEBUG is narrowed to belt's own namespaces before any library reads it (core/debug-env.ts says why), hence the
// dynamic import of everything else.
import {restrictDebugEnv} from '../dist/core/debug-env.js'

restrictDebugEnv(process.env)
const {main} = await import('../dist/main.js')
await main(process.argv.slice(2), import.meta.url)
