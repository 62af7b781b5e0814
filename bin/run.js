#!/usr/bin/env node
// DEBUG is narrowed to belt's own namespaces, and colour switched off for pipes and NO_COLOR, before any library reads
// them (core/debug-env.ts says why), hence the dynamic import of everything else.
import {restrictColorEnv, restrictDebugEnv} from '../dist/core/debug-env.js'

restrictDebugEnv(process.env)
restrictColorEnv(process.env)
const {main} = await import('../dist/main.js')
await main(process.argv.slice(2), import.meta.url)
