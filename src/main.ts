// Entry point used by bin/run.js: argv pre-processing, oclif, and one place for error handling.
import {run, flush} from '@oclif/core'
import {preprocessArgv} from './argv.js'
import {handleError} from './ui/errors.js'

export async function main(argv: string[], root: string): Promise<void> {
  if (argv.includes('--debug') && !process.env.DEBUG) {
    process.env.DEBUG = 'belt*'
  }
  try {
    await run(preprocessArgv(argv), root)
    await flush()
  } catch (err) {
    handleError(err)
  }
}
