// The versions `belt version` reports (and a bug report needs): belt's, Node's and those of the libraries that talk
// to the outside world, read from the package.json each one installed, as Node's resolution finds them from here.
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

export const REPORTED_PACKAGES = ['ssh2', '@aws-sdk/client-ec2', 'dots-wrapper', '@oclif/core'] as const

export type Versions = {belt: string; node: string; platform: string} & Record<(typeof REPORTED_PACKAGES)[number], string | null>

export function versions(belt: string, from: string = import.meta.url): Versions {
  const found = Object.fromEntries(REPORTED_PACKAGES.map((p) => [p, installedVersion(p, from)]))
  return {belt, node: process.versions.node, ...found, platform: `${process.platform}-${process.arch}`} as Versions
}

/** The version in a package's own package.json, or null when it is not installed. */
export function installedVersion(pkg: string, from: string): string | null {
  const require = createRequire(from)
  const read = (path: string): string | null => {
    const j = JSON.parse(readFileSync(path, 'utf8')) as {name?: string; version?: string}
    return j.name === pkg && typeof j.version === 'string' ? j.version : null
  }
  try {
    return read(require.resolve(`${pkg}/package.json`))
  } catch {}
  // A package whose `exports` leave out ./package.json: walk up from its entry point.
  try {
    for (let dir = dirname(require.resolve(pkg)); dir !== dirname(dir); dir = dirname(dir)) {
      try {
        const v = read(join(dir, 'package.json'))
        if (v) return v
      } catch {}
    }
  } catch {}
  return null
}
