// The words of `belt scp` (pure, no I/O): which side is remote and which is local. A word is remote when it has a `:`
// outside brackets (CONTRACT §12: `'w[1:4]':/tmp` splits at the `:` after `]`) and no `/` before that `:` (as scp:
// `./a:b` is a local file).
import {UsageError} from './errors.js'

export interface RemoteSpec {
  /** The node, pattern or comma list before the `:`. */
  target: string
  /** The remote path after it ('' is the login's home folder). */
  path: string
}

export type CopyRequest =
  | {kind: 'upload'; sources: string[]; target: string; dest: string}
  | {kind: 'download'; target: string; src: string; dest: string}
  | {kind: 'load'; archive: string; targets: string[]}

/** `PATTERN:PATH` split at the first `:` outside brackets; null for a local path. */
export function splitRemote(word: string): RemoteSpec | null {
  let depth = 0
  for (let i = 0; i < word.length; i++) {
    const c = word[i]
    if (c === '[') depth++
    else if (c === ']') depth = Math.max(0, depth - 1)
    else if (c === '/' && depth === 0) return null
    else if (c === ':' && depth === 0) return i === 0 ? null : {target: word.slice(0, i), path: word.slice(i + 1)}
  }
  return null
}

/** What `belt scp WORDS...` (or `belt scp --load ARCHIVE WORDS...`) asks for; a usage error when it is neither form. */
export function parseCopyArgs(words: string[], o: {load?: string} = {}): CopyRequest {
  if (o.load !== undefined) {
    if (o.load === '') throw new UsageError('--load needs an archive file (docker save -o FILE) or - for stdin')
    if (words.length === 0) throw new UsageError("which nodes? belt scp --load ARCHIVE 'PATTERN'")
    const remote = words.find((w) => splitRemote(w))
    if (remote) throw new UsageError(`--load takes nodes or patterns, not ${remote}: the archive goes into docker load, not to a path`)
    return {kind: 'load', archive: o.load, targets: words}
  }
  if (words.length < 2) throw new UsageError("belt scp FILE... 'PATTERN':DEST or belt scp NODE:SRC DEST")
  const last = splitRemote(words[words.length - 1])
  const first = splitRemote(words[0])
  if (last) {
    const remoteSource = words.slice(0, -1).find((w) => splitRemote(w))
    if (remoteSource) throw new UsageError(`copying from nodes to nodes is not supported (${remoteSource}); copy to this machine first`)
    return {kind: 'upload', sources: words.slice(0, -1), target: last.target, dest: last.path}
  }
  if (first) {
    if (words.length > 2) throw new UsageError(`belt scp NODE:SRC DEST takes one source and one local destination, got ${words.length} words`)
    return {kind: 'download', target: first.target, src: first.path, dest: words[1]}
  }
  throw new UsageError(`no NODE:PATH among ${words.join(' ')}: name the remote side as 'PATTERN':PATH (e.g. 'w[1:4]':/tmp)`)
}
