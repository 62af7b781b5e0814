// Files shipped with belt (templates/), located from the installed package, not the working directory.
import {fileURLToPath} from 'node:url'
import {join} from 'node:path'

/** The package root: dist/core/paths.js → ../../ */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export function templatePath(driver: string): string {
  return join(PACKAGE_ROOT, 'templates', `${driver}.yml`)
}
