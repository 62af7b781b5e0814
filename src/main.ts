// Entry point used by bin/run.js: argv pre-processing, oclif, and one place for error handling.
import {run, flush} from '@oclif/core'
import {preprocessArgv} from './argv.js'
import {handleError} from './ui/errors.js'
import {enableDebug} from './core/debug.js'
import {registerSecret} from './core/redact.js'

/** Secrets the environment may hold: scrubbed from anything belt prints from the start, not only once a provider reads them. */
const SECRET_ENV = ['DIGITALOCEAN_ACCESS_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'BELT_SSH_PASSPHRASE']

export async function main(argv: string[], root: string): Promise<void> {
  for (const name of SECRET_ENV) registerSecret(process.env[name]?.trim())
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
