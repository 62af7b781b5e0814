// Confirmation prompts (CONTRACT §7): asked only on a TTY; a non-TTY must pass --yes / --force instead.
import {createInterface} from 'node:readline/promises'
import {UsageError} from '../core/errors.js'

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

/** Ask y/N on a TTY; without a TTY refuse with a usage error that names the flag to pass. */
export async function confirm(question: string, flag: string): Promise<boolean> {
  if (!isInteractive()) throw new UsageError(`${question.replace(/\?$/, '')}: refusing without a terminal; pass ${flag} to go ahead`)
  const rl = createInterface({input: process.stdin, output: process.stderr})
  try {
    const answer = await rl.question(`${question} [y/N] `)
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}
