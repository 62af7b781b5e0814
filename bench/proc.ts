// /proc helpers for the bench: a process's descendants, their summed resident memory, killing a tree by pid.
import {readdirSync, readFileSync} from 'node:fs'

const PAGE = 4096

/** pid → ppid for every process now. */
export function parentMap(): Map<number, number> {
  const m = new Map<number, number>()
  for (const e of readdirSync('/proc')) {
    const c = e.charCodeAt(0)
    if (c < 48 || c > 57) continue
    try {
      const s = readFileSync(`/proc/${e}/stat`, 'latin1')
      // comm may hold spaces and parentheses: fields resume after the last ')'.
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ')
      m.set(Number(e), Number(rest[1]))
    } catch {
      // gone meanwhile
    }
  }
  return m
}

/** `root` and all its descendants (by pid). */
export function descendants(root: number, parents = parentMap()): number[] {
  const children = new Map<number, number[]>()
  for (const [pid, ppid] of parents) {
    let l = children.get(ppid)
    if (!l) children.set(ppid, (l = []))
    l.push(pid)
  }
  const out: number[] = []
  const stack = [root]
  while (stack.length) {
    const p = stack.pop()!
    if (!parents.has(p)) continue
    out.push(p)
    for (const c of children.get(p) ?? []) stack.push(c)
  }
  return out
}

/** Resident set size in bytes (statm: counts shared pages once per process). */
export function rssBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ')[1]) * PAGE
  } catch {
    return 0
  }
}

/**
 * `root` and its descendants from /proc/PID/task/TID/children (Linux ≥ 3.5): reads only the tree itself, not every
 * process on the machine — cheap enough to sample every 100 ms beside the tool being measured.
 */
export function descendantsFromChildren(root: number): number[] {
  const out: number[] = []
  const queue = [root]
  while (queue.length) {
    const p = queue.shift()!
    let tids: string[]
    try {
      tids = readdirSync(`/proc/${p}/task`)
    } catch {
      continue
    }
    out.push(p)
    for (const t of tids) {
      try {
        const c = readFileSync(`/proc/${p}/task/${t}/children`, 'latin1').trim()
        if (c) for (const x of c.split(' ')) queue.push(Number(x))
      } catch {
        // thread or process gone
      }
    }
  }
  return out
}

/** Proportional set size in bytes (smaps_rollup): shared pages divided among the processes sharing them. */
export function pssBytes(pid: number): number {
  try {
    const m = /\nPss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Sum of RSS (and, when asked, of PSS) over a process tree, and how many processes it had. */
export function treeRss(root: number, withPss = false): {bytes: number; pss: number; procs: number} {
  const pids = descendantsFromChildren(root)
  let bytes = 0
  let pss = 0
  for (const p of pids) {
    bytes += rssBytes(p)
    if (withPss) pss += pssBytes(p)
  }
  return {bytes, pss, procs: pids.length}
}

/** Kill `root` and its descendants by pid (children first), with `signal`. */
export function killTree(root: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of descendants(root).reverse()) {
    try {
      process.kill(p, signal)
    } catch {
      // already gone
    }
  }
}
