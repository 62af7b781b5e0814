// Docker images without a registry, built from Debian packages: the package is unpacked (never installed), its
// binary copied to where the official image keeps it, with the shared libraries `ldd` lists, into a tarball for
// `docker import`. ./scripts/setup fetches the packages into DEB_CACHE once (apt-get download).
import {execFileSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'

export const DEB_CACHE = process.env.BELT_TEST_DEBS ?? '/var/cache/belt-test/debs'

/** The cached .deb of a package, or null (the reason is in the caller's skip). */
export function cachedDeb(pkg: string): string | null {
  if (!existsSync(DEB_CACHE)) return null
  const deb = readdirSync(DEB_CACHE).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')).sort().pop()
  return deb ? join(DEB_CACHE, deb) : null
}

/** The libraries (and the loader) a dynamically linked binary needs, as ldd resolves them on this machine. */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], {encoding: 'utf8'})
  const libs: string[] = []
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (m) libs.push(m[1])
  }
  return libs
}

export interface DebImage {
  /** The Debian package. */
  pkg: string
  /** The binary's path inside the package. */
  binary: string
  /** Where the image keeps it (the official image's ENTRYPOINT). */
  entrypoint: string
}

/** A tarball for `docker import` holding the package's binary at `entrypoint`, its libraries and a /tmp. */
export function buildDebImage(img: DebImage, into: string): string {
  const deb = cachedDeb(img.pkg)
  if (!deb) throw new Error(`no ${img.pkg} package in ${DEB_CACHE} (./scripts/setup fetches it)`)
  const work = mkdtempSync(join(into, `${img.pkg}-`))
  const unpacked = join(work, 'deb')
  const root = join(work, 'root')
  execFileSync('dpkg-deb', ['-x', deb, unpacked])
  const binary = join(unpacked, img.binary)
  const put = (from: string, to: string) => {
    mkdirSync(join(root, dirname(to)), {recursive: true})
    copyFileSync(from, join(root, to))
  }
  put(binary, img.entrypoint)
  for (const lib of sharedLibraries(binary)) put(lib, lib)
  mkdirSync(join(root, 'tmp'), {recursive: true})
  chmodSync(join(root, 'tmp'), 0o1777)
  const tar = join(into, `${img.pkg}.tar`)
  execFileSync('tar', ['-C', root, '-cf', tar, '.'])
  rmSync(work, {recursive: true, force: true})
  return tar
}
