// The ops bench: day-2 fleet commands beside the pssh tools, on the join bench's simulated fleet (one real sshd
// answering on every address, bench/fleet.ts), in the same run:
//   - `belt ssh 'w[1:N]' -- true` beside `parallel-ssh -p 100 ... true`;
//   - `belt scp FILE 'w[1:M]':DIR/` of a 1 MiB file beside `parallel-scp -p 100 FILE DIR/` (OpenSSH 9 scp speaks SFTP);
//   - the memory check: `belt scp` of a large file to many hosts, whose peak RSS must not grow with the file.
// Both sides use the same key exchange (curve25519-sha256) and cipher (aes128-gcm@openssh.com: belt's first choice,
// passed to OpenSSH with -o Ciphers=), no host-key files, concurrency 100. CPU = the tool and every process it waited for.
import {closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import {Fleet, FLEET_DIR, FLEET_USER} from './fleet.js'
import {BELT_BIN, fleetQuiet, prepareFiles, writeBeltCluster} from './join.js'
import {measure} from './measure.js'

export const CIPHER = 'aes128-gcm@openssh.com'

export interface OpsRow {
  tool: string
  what: string
  n: number
  concurrency: number
  wallS: number
  cpuS: number
  cpuMsPerHost: number
  /** belt: its own max RSS; pssh tools: the peak summed RSS of the process tree. */
  peakRssMB: number
  exitCode: number | null
  /** Hosts the check found wrong (file missing or of the wrong size; for ssh: a non-zero exit). */
  failures: number
  note?: string
}

export interface OpsOptions {
  sshHosts: number
  scpHosts: number
  scpBytes: number
  /** The memory check: this big a file to this many hosts (at `memConcurrency` at once). */
  memBytes: number
  memHosts: number
  memConcurrency: number
  log: (line: string) => void
  workDir: string
  onRow?: (rows: OpsRow[]) => void
}

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(BELT_|DIGITALOCEAN_|AWS_|DEBUG$|SSH_AUTH_SOCK$|SSH_AGENT_PID$)/.test(k)) e[k] = v
  return {...e, ...extra}
}

/** A file of `bytes` random bytes, written in 1 MiB pieces. */
function makeFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w')
  const piece = randomBytes(1024 * 1024)
  for (let left = bytes; left > 0; left -= piece.length) writeSync(fd, piece, 0, Math.min(piece.length, left))
  closeSync(fd)
}

const q = (s: string) => (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

export async function runOps(o: OpsOptions): Promise<{rows: OpsRow[]; cipher: string}> {
  const maxN = Math.max(o.sshHosts, o.scpHosts, o.memHosts)
  const fleet = Fleet.up({workers: maxN, joinLatency: 0, log: o.log})
  const rows: OpsRow[] = []
  try {
    const beltDir = join(o.workDir, '.belt')
    writeBeltCluster(beltDir, maxN, fleet.paths.clientKey)
    const hostsFile = prepareFiles({workDir: o.workDir}, [...new Set([o.sshHosts, o.scpHosts, o.memHosts])])
    const sshArgs = [...fleet.sshArgs(), '-o', `Ciphers=${CIPHER}`]
    const beltEnv = env({BELT_DIR: beltDir, BELT_CLUSTER: 'bench'})
    const small = join(o.workDir, 'payload-1m.bin')
    makeFile(small, o.scpBytes)
    const destRoot = join(FLEET_DIR, 'scp-dest')

    const record = async (tool: string, what: string, n: number, concurrency: number, cmd: string, args: string[], e: NodeJS.ProcessEnv,
      check: () => number): Promise<OpsRow> => {
      await fleetQuiet(fleet)
      o.log(`${tool} ${what} N=${n} …`)
      const outputPath = join(o.workDir, `${tool.replace(/\W+/g, '-')}-${rows.length}.out`)
      const m = await measure(cmd, args, {env: e, cwd: o.workDir, outputPath, timeoutMs: 20 * 60_000})
      await fleetQuiet(fleet)
      const row: OpsRow = {
        tool, what, n, concurrency, wallS: m.wallS, cpuS: m.cpuS, cpuMsPerHost: (m.cpuS * 1000) / n,
        peakRssMB: (tool.startsWith('belt') ? m.maxRssBytes : m.peakTreeRssBytes) / 2 ** 20,
        exitCode: m.exitCode, failures: m.exitCode === 0 ? check() : Math.max(1, check()),
      }
      if (m.exitCode !== 0) {
        row.note = `exit ${m.exitCode ?? m.signal}: ${readFileSync(outputPath, 'utf8').trim().split('\n').slice(-3).join(' / ').slice(0, 300)}`
      }
      rows.push(row)
      o.onRow?.(rows)
      o.log(`  ${row.wallS.toFixed(1)} s wall, ${row.cpuMsPerHost.toFixed(2)} ms CPU/host, ${row.peakRssMB.toFixed(0)} MB, ${row.failures} failures`)
      return row
    }

    // ssh: `true` everywhere. The check is the exit code (both tools exit non-zero when any host failed).
    const range = (n: number) => `w[1:${n}]`
    await record('belt ssh', '-- true', o.sshHosts, 100, process.execPath,
      [BELT_BIN, 'ssh', range(o.sshHosts), '--concurrency', '100', '--', 'true'], beltEnv, () => 0)
    await record('parallel-ssh', 'true', o.sshHosts, 100, 'parallel-ssh',
      ['-p', '100', '-t', '0', '-h', hostsFile(o.sshHosts), '-l', FLEET_USER, '-x', sshArgs.map(q).join(' '), 'true'], env(), () => 0)

    // scp: every host is the same file system here, so each tool writes into its own empty folder and the check is
    // that the file is there, whole. (All hosts write the same path: the last writer's copy is what is checked.)
    const scpCheck = (dir: string, bytes: number) => () => {
      try {
        return statSync(join(dir, 'payload.bin')).size === bytes ? 0 : 1
      } catch {
        return 1
      }
    }
    const fresh = (name: string) => {
      const dir = join(destRoot, name)
      rmSync(dir, {recursive: true, force: true})
      mkdirSync(dir, {recursive: true})
      return dir
    }
    const payload = join(o.workDir, 'payload.bin')
    rmSync(payload, {force: true})
    renameSync(small, payload)
    const dBelt = fresh('belt')
    await record('belt scp', `${(o.scpBytes / 2 ** 20).toFixed(0)} MiB`, o.scpHosts, 100, process.execPath,
      [BELT_BIN, 'scp', payload, `${range(o.scpHosts)}:${dBelt}/`, '--concurrency', '100'], beltEnv, scpCheck(dBelt, o.scpBytes))
    const dPscp = fresh('pscp')
    await record('parallel-scp', `${(o.scpBytes / 2 ** 20).toFixed(0)} MiB`, o.scpHosts, 100, 'parallel-scp',
      ['-p', '100', '-t', '0', '-h', hostsFile(o.scpHosts), '-l', FLEET_USER, '-x', sshArgs.map(q).join(' '), payload, `${dPscp}/`], env(), scpCheck(dPscp, o.scpBytes))

    // Memory: a large file to many hosts; belt's RSS must stay where the 1 MiB run put it.
    rmSync(payload, {force: true})
    makeFile(payload, o.memBytes)
    const dMem = fresh('mem')
    await record('belt scp', `${(o.memBytes / 2 ** 20).toFixed(0)} MiB (memory)`, o.memHosts, o.memConcurrency, process.execPath,
      [BELT_BIN, 'scp', payload, `${range(o.memHosts)}:${dMem}/`, '--concurrency', String(o.memConcurrency)], beltEnv, scpCheck(dMem, o.memBytes))
    rmSync(payload, {force: true})
    for (const d of readdirSync(destRoot)) rmSync(join(destRoot, d), {recursive: true, force: true})
    return {rows, cipher: CIPHER}
  } finally {
    Fleet.down()
  }
}
