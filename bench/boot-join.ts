// The boot-join bench: `belt create 1gb 'w[1:N]' --join mg0` against the fake DigitalOcean (250 requests a minute,
// 5,000 an hour), with a stand-in manager (the simulated fleet's mg0: one real sshd, bench/standin-docker.sh) whose
// `docker node ls` grows only when a simulated node boots — 5 to 60 s after its create — AND the user data belt
// rendered for it, run for real with `sh` (stand-in hostname, docker and curl), sends the manager's current worker
// token to the manager's address. A wrong script joins nobody. Measured: belt's CPU and peak RSS, SSH connections
// to the manager (an iptables counter of SYNs in the fleet's namespace), API requests by kind, and how long after the
// last boot belt saw every node Ready.
import {spawn, execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, mkdirSync, writeFileSync, readFileSync, existsSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import pLimit from 'p-limit'
import {stringify} from 'yaml'
import {FakeDigitalOcean} from '../test/fakes/digitalocean.js'
import {type Fleet, FLEET_USER, JOIN_TOKEN, MANAGER_ADDRESS, NETNS} from './fleet.js'
import {BELT_BIN} from './join.js'
import {measure} from './measure.js'

export interface BootRow {
  mode: string
  n: number
  wallS: number
  cpuS: number
  cpuMsPerWorker: number
  peakRssMB: number
  sshConnections: number
  creates: number
  lists: number
  apiRequests: number
  /** 429s the fake answered (the pacer should keep it at 0). */
  throttled: number
  joined: number
  /** Seconds from the last simulated boot until belt exited (it saw every node Ready, then rotated). */
  readyAfterLastBootS: number
  exitCode: number | null
  note?: string
}

const CLUSTER = 'boot'
const CLUSTER_ID = 'b007b007b007b007b007'

function ns(args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', NETNS, ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

/** Count new SSH connections to the manager: a rule in the fleet's namespace that only counts SYNs to mg0:22. */
function sshCounter(): {reset: () => void; read: () => number} {
  const spec = ['INPUT', '-p', 'tcp', '-d', MANAGER_ADDRESS, '--dport', '22', '--syn', '-m', 'comment', '--comment', 'bb-boot-ssh', '-j', 'ACCEPT']
  try { ns(['iptables', '-w', '-C', ...spec]) } catch { ns(['iptables', '-w', '-I', ...spec]) }
  return {
    reset: () => { ns(['iptables', '-w', '-Z', 'INPUT']) },
    read: () => {
      const line = ns(['iptables', '-w', '-L', 'INPUT', '-v', '-x', '-n']).split('\n').find((l) => l.includes('bb-boot-ssh'))
      return Number(line?.trim().split(/\s+/)[0] ?? NaN)
    },
  }
}

/** The stand-ins a booting node's user data runs with: its hostname, a docker in no swarm, curl checking the join. */
function bootSandbox(dir: string, state: string, managerAddr: string): {bin: string; sock: string} {
  const bin = join(dir, 'bin')
  mkdirSync(bin, {recursive: true})
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  const sock = join(dir, 'docker.sock')
  tool('hostname', '[ $# -eq 0 ] && echo "$BOOT_NAME"; exit 0')
  tool('docker', [
    'case "$1 $2" in',
    '  "info --format") echo inactive ;;',
    `  "context inspect") echo "unix://${sock}" ;;`,
    '  *) exit 1 ;;',
    'esac',
  ].join('\n'))
  // POST /swarm/join as the manager would judge it: the current worker token, and the manager's address among the
  // remote addresses. Only then does the manager's node list grow.
  tool('curl', [
    'body=$(cat)',
    `read -r tok < ${state}/token_w`,
    'case "$body" in *"\\"JoinToken\\":\\"$tok\\""*) ;; *) printf \'{"message":"invalid join token"} HTTP400\'; exit 0 ;; esac',
    `case "$body" in *'"RemoteAddrs":['*'"${managerAddr}"'*) ;; *) printf '{"message":"no route to the manager"} HTTP500'; exit 0 ;; esac`,
    `printf 'id%s %s Ready\\n' "$BOOT_NAME" "$BOOT_NAME" >> ${state}/nodes`,
    'printf \' HTTP200\'',
  ].join('\n'))
  return {bin, sock}
}

interface Booter {
  booted: () => number
  joinedByScript: () => number
  lastBootAt: () => number
  stop: () => Promise<void>
}

/** Boot each created droplet 5–60 s after its create: run its user data (as belt sent it) with the stand-ins. */
type Created = {name: string; userData?: string; createdAt: number}

function booter(dir: string, sandbox: {bin: string}, onFail: (m: string) => void): {onCreated: (d: Created) => void; b: Booter} {
  const limit = pLimit(8)
  const scripts = new Map<string, string>()
  const timers = new Set<NodeJS.Timeout>()
  const inflight = new Set<Promise<void>>()
  let booted = 0
  let ok = 0
  let lastBootAt = 0
  const boot = (name: string, userData: string | undefined) => {
    lastBootAt = Date.now()
    booted++
    if (!userData) return onFail(`${name}: no user data`)
    const key = createHash('sha256').update(userData).digest('hex').slice(0, 16)
    let file = scripts.get(key)
    if (!file) {
      file = join(dir, `user-data-${key}`)
      writeFileSync(file, userData, {mode: 0o700})
      scripts.set(key, file)
    }
    const script = file
    const p = limit(() => new Promise<void>((resolve) => {
      const child = spawn('sh', [script], {env: {PATH: `${sandbox.bin}:/usr/bin:/bin`, BOOT_NAME: name, BELT_LOG: '/dev/null'}, stdio: 'ignore'})
      // A script that does not join retries until its deadline: a boot that has not joined in 20 s counts as failed.
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000)
      child.on('exit', (code) => {
        clearTimeout(t)
        if (code === 0) ok++
        else onFail(`${name}: the user data exited ${code}`)
        resolve()
      })
    }))
    inflight.add(p)
    void p.then(() => inflight.delete(p))
  }
  return {
    onCreated: (d) => {
      const at = d.createdAt + 5000 + Math.random() * 55_000
      const t = setTimeout(() => { timers.delete(t); boot(d.name, d.userData) }, Math.max(0, at - Date.now()))
      timers.add(t)
    },
    b: {
      booted: () => booted,
      joinedByScript: () => ok,
      lastBootAt: () => lastBootAt,
      stop: async () => {
        for (const t of timers) clearTimeout(t)
        await Promise.all([...inflight])
      },
    },
  }
}

/** One row: a fresh fake DigitalOcean, the manager's node list reset, then belt create --join, measured. */
export async function runBootJoin(o: {fleet: Fleet; workDir: string; n: number; log: (l: string) => void}): Promise<BootRow> {
  const dir = join(o.workDir, `boot-${o.n}`)
  mkdirSync(dir, {recursive: true})
  const state = o.fleet.paths.state
  writeFileSync(join(state, 'token_w'), JOIN_TOKEN + '\n')
  writeFileSync(join(state, 'nodes'), `mgr0 mg0 Ready\n`)
  const failures: string[] = []
  const fakeRef: {boot?: ReturnType<typeof booter>} = {}
  const fake = new FakeDigitalOcean({
    latencyMs: 50, activeAfterMs: 5000, perMinute: 250, perHour: 5000, dropletLimit: 20_000,
    onDropletCreated: (d) => { if (d.name !== 'mg0') fakeRef.boot?.onCreated(d) },
  })
  const url = await fake.start()
  const mg0 = fake.seedDroplet('mg0', [`belt-cluster:${CLUSTER}`, `belt-id:${CLUSTER_ID}`])
  fake.setPublicIp('mg0', MANAGER_ADDRESS)
  const managerPrivate = mg0.networks.v4.find((v) => v.type === 'private')!.ip_address
  const sandbox = bootSandbox(dir, state, `${managerPrivate}:2377`)
  const server: Server = createServer()
  await new Promise<void>((r) => server.listen(sandbox.sock, r))
  fakeRef.boot = booter(dir, sandbox, (m) => { if (failures.length < 20) failures.push(m) })

  const beltDir = join(dir, '.belt')
  mkdirSync(join(beltDir, CLUSTER), {recursive: true})
  writeFileSync(join(beltDir, CLUSTER, 'config.yml'), stringify({
    driver: 'digitalocean', cluster_id: CLUSTER_ID,
    digitalocean: {region: 'nyc1', ssh_user: FLEET_USER, ssh_key: o.fleet.paths.clientKey, strict_host_key_checking: 'no'},
  }))
  writeFileSync(join(beltDir, 'active'), `${CLUSTER}\n`)
  const counter = sshCounter()
  counter.reset()
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', BELT_DIR: beltDir, BELT_CLUSTER: CLUSTER,
    DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url,
  }
  const outputPath = join(dir, 'belt.out')
  o.log(`boot-join N=${o.n}: belt create 1gb 'w[1:${o.n}]' --join mg0 (creates at 250 requests/min, boots 5–60 s after each create) …`)
  const m = await measure(process.execPath, [BELT_BIN, 'create', '1gb', `w[1:${o.n}]`, '--join', 'mg0', '--yes', '--json'],
    {env, cwd: dir, outputPath, timeoutMs: 30 * 60_000})
  const endedAt = Date.now()
  await fakeRef.boot.b.stop()
  const sshConnections = counter.read()
  server.close()
  await fake.stop()
  const count = (method: string, route: string) => fake.count(method, route)
  const apiRequests = [...fake.counts.values()].reduce((a, b) => a + b, 0)
  const nodes = readFileSync(join(state, 'nodes'), 'utf8').trim().split('\n').length - 1
  let joinedJson = 0
  try {
    const out = readFileSync(outputPath, 'utf8')
    const doc = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as {joined?: string[]}
    joinedJson = doc.joined?.length ?? 0
  } catch {}
  const row: BootRow = {
    mode: 'create --join (boot)',
    n: o.n,
    wallS: m.wallS,
    cpuS: m.cpuS,
    cpuMsPerWorker: (m.cpuS * 1000) / o.n,
    peakRssMB: m.maxRssBytes / 2 ** 20,
    sshConnections,
    creates: count('POST', '/v2/droplets'),
    lists: count('GET', '/v2/droplets'),
    apiRequests,
    throttled: fake.log.filter((r) => r.status === 429).length,
    joined: Math.min(nodes, joinedJson),
    readyAfterLastBootS: (endedAt - fakeRef.boot.b.lastBootAt()) / 1000,
    exitCode: m.exitCode,
  }
  if (m.exitCode !== 0 || row.joined !== o.n || failures.length) {
    const tail = existsSync(outputPath) ? readFileSync(outputPath, 'utf8').split('\n').filter((l) => !l.startsWith('{') && l.trim()).slice(-3).join(' / ') : ''
    row.note = `exit ${m.exitCode}; script joins ${fakeRef.boot.b.joinedByScript()}/${fakeRef.boot.b.booted()}; ${failures.slice(0, 3).join('; ')} ${tail}`.replace(/SWMTKN-[\w-]+/g, 'SWMTKN-…redacted').slice(0, 500)
  }
  return row
}
