// Entry point used by bin/run.js: argv pre-processing, oclif, and one place for error handling.
import {run, flush} from '@oclif/core'
import {preprocessArgv} from './argv.js'
import {handleError} from './ui/errors.js'
import {enableDebug} from './core/debug.js'

export async function main(argv: string[], root: string): Promise<void> {
  const processed = preprocessArgv(argv)
  // Only belt's own --debug: not one meant for docker after `belt docker ... --` (argv.ts inserts that `--`).
  const own = processed.includes('--') ? processed.slice(0, processed.indexOf('--')) : processed
  if (own.includes('--debug')) enableDebug()
  try {
    await run(processed, root)
    await flush()
  } catch (err) {
    handleError(err)
  }
}
