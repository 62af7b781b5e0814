// `npm run bench` (bench/run → here): belt at scale, side by side with what an operator would otherwise use, in the
// same run on the same machine. Sections: join (simulated SSH fleet), api (fake DigitalOcean / EC2 APIs with
// latency), tls (certificates for 2,000 nodes), startup (`belt cluster ls` vs `node -e 0`), ops (belt ssh / scp on
// many hosts beside parallel-ssh / parallel-scp, and scp's memory with a large file), boot (self-joining workers),
// up (`belt up` of 3 + N against the fake DigitalOcean and the SSH lab, beside the create → wait → init → join
// "waves" by hand).
// Prints a table per section, every target with pass/miss, and writes bench/results.json.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync, readFileSync} from 'node:fs'
import {cpus, release, totalmem, tmpdir} from 'node:os'
import {join} from 'node:path'
import {table} from '../src/ui/output.js'
import {Fleet} from './fleet.js'
import {running} from './measure.js'
import {killTree} from './proc.js'
import {JoinRow, JUMP, ROOT, prepareFiles, remoteJoinCommand, runJoin, tools, writeBeltCluster} from './join.js'
import {runStartup, StartupResult} from './startup.js'
import {expandPatterns, validateHostname} from '../src/core/range.js'
import {ApiResult, runApi} from './api.js'
import {runTls, TlsResult} from './tls-bench.js'
import {BootRow, runBootJoin} from './boot-join.js'
import {runOps, type OpsRow} from './ops.js'
import {labsUp, runUp, UpResult} from './up.js'

type Section = 'join' | 'api' | 'tls' | 'startup' | 'boot' | 'ops' | 'up'
const SECTIONS: Section[] = ['join', 'api', 'tls', 'startup', 'boot', 'ops', 'up']

interface Options {
  ns: number[]
  only: Section[]
  joinLatency: number
  /** Join-section tools to run (default all). */
  tools: ToolKey[]
  /** Boot-section fleet sizes; the first also gets the SSH join row. */
  bootNs: number[]
  /** ops section: the memory check's file size (MiB) and hosts. */
  opsMemMiB: number
  opsMemHosts: number
  /** Workers of the up section (3 managers besides). */
  upN: number
  /** Up section: only the waves baseline (for developing the bench before `belt up` exists). */
  upWavesOnly: boolean
}

const TOOL_KEYS = ['belt', 'xargs', 'pssh', 'ansible', 'ssh2'] as const
type ToolKey = (typeof TOOL_KEYS)[number]

function usage(msg?: string): never {
  if (msg) process.stderr.write(`bench: ${msg}\n`)
  process.stderr.write(
    'usage: npm run bench -- [--quick] [--only join|api|tls|startup|boot|ops|up[,...]] [--n 100,500,2000] [--join-latency 0.3] [--tools ...] [--up-n 2000]\n' +
      '  --quick          N=100 only for the join section, fewer droplets/instances, 3 + 100 for up (development)\n' +
      '  --only LIST      run only these sections\n' +
      '  --n LIST         fleet sizes for the join section (default 100,500,2000)\n' +
      '  --join-latency S seconds the stand-in docker sleeps on `swarm join` (default 0.3)\n' +
      '  --tools LIST     join-section tools: belt,xargs,pssh,ansible,ssh2 (default all; for development)\n' +
      '  --boot-n LIST    boot-section fleet sizes (default 5000,10000; the first also gets the belt swarm join row)\n' +
      '  --ops-mem MIB,HOSTS  ops section memory check: this big a file to this many hosts (default 200,100)\n' +
      '  --up-n N         workers of the up section (default 2000; 3 managers besides)\n' +
      '  --up-waves-only  up section: the waves baseline alone (development)\n',
  )
  process.exit(msg ? 2 : 0)
}

function parseArgs(argv: string[]): Options & {quick: boolean} {
  const o = {ns: [100, 500, 2000], only: [...SECTIONS], joinLatency: 0.3, tools: [...TOOL_KEYS] as ToolKey[], quick: false, bootNs: [5000, 10000],
    opsMemMiB: 200, opsMemHosts: 100, upN: 2000, upWavesOnly: false}
  let nGiven = false
  let bootGiven = false
  let upNGiven = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]
      if (v === undefined) usage(`${a} needs a value`)
      return v
    }
    if (a === '--quick') o.quick = true
    else if (a === '--help' || a === '-h') usage()
    else if (a.startsWith('--only')) {
      const list = val().split(',') as Section[]
      for (const s of list) if (!SECTIONS.includes(s)) usage(`unknown section '${s}' (${SECTIONS.join(', ')})`)
      o.only = list
    } else if (a.startsWith('--up-n')) {
      o.upN = Number(val())
      if (!Number.isInteger(o.upN) || o.upN < 1 || o.upN > 7000) usage('--up-n takes a whole number 1..7000')
      upNGiven = true
    } else if (a === '--up-waves-only') {
      o.upWavesOnly = true
    } else if (a.startsWith('--n')) {
      o.ns = val().split(',').map(Number)
      if (o.ns.some((n) => !Number.isInteger(n) || n < 1 || n > 60000)) usage('--n takes whole numbers 1..60000')
      nGiven = true
    } else if (a.startsWith('--boot-n')) {
      o.bootNs = val().split(',').map(Number)
      if (o.bootNs.some((n) => !Number.isInteger(n) || n < 1 || n > 20000)) usage('--boot-n takes whole numbers 1..20000')
      bootGiven = true
    } else if (a.startsWith('--tools')) {
      const list = val().split(',') as ToolKey[]
      for (const t of list) if (!TOOL_KEYS.includes(t)) usage(`unknown tool '${t}' (${TOOL_KEYS.join(', ')})`)
      o.tools = list
    } else if (a.startsWith('--ops-mem')) {
      const [mib, hosts] = val().split(',').map(Number)
      if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(hosts) || hosts < 1 || hosts > 60000) usage('--ops-mem takes MIB,HOSTS (whole numbers)')
      o.opsMemMiB = mib
      o.opsMemHosts = hosts
    } else if (a.startsWith('--join-latency')) {
      o.joinLatency = Number(val())
      if (!(o.joinLatency >= 0)) usage('--join-latency takes seconds')
    } else usage(`unknown argument '${a}'`)
  }
  if (o.quick && !nGiven) o.ns = [100]
  if (o.quick && !bootGiven) o.bootNs = [200]
  if (o.quick && !upNGiven) o.upN = 100
  return o
}

function machine() {
  const osRelease = (() => {
    try {
      return /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown'
    } catch {
      return 'unknown'
    }
  })()
  const ssh = (() => {
    try {
      return execFileSync('ssh', ['-V'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']}).trim()
    } catch (e) {
      return String((e as {stderr?: string}).stderr ?? '').trim()
    }
  })()
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    os: osRelease,
    kernel: release(),
    node: process.version,
    openssh: ssh || execFileSync('sh', ['-c', 'ssh -V 2>&1'], {encoding: 'utf8'}).trim(),
    loadAvgAtStart: load,
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-')
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-')
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-')
const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

interface Target {
  target: string
  value: string
  pass: boolean | null
  note?: string
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2))
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: machine(),
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  }
  const targets: Target[] = []
  const resultsPath = join(ROOT, 'bench', 'results.json')
  const save = () => writeFileSync(resultsPath, JSON.stringify({...results, targets}, null, 2) + '\n')
  const workDir = mkdtempSync(join(tmpdir(), 'bb-bench-'))
  let fleetUp = false

  const cleanup = () => {
    for (const pid of running) killTree(pid)
    for (const lab of labsUp) lab.kill()
    labsUp.clear()
    if (fleetUp) Fleet.down()
    fleetUp = false
    rmSync(workDir, {recursive: true, force: true})
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`${sig}: cleaning up${fleetUp ? " the fleet" : ""}`)
      cleanup()
      process.exit(sig === 'SIGINT' ? 130 : 143)
    })
  }

  const m = results.machine as ReturnType<typeof machine>
  process.stdout.write(`belt bench · ${m.cores} × ${m.cpu} · ${m.memGiB} GiB · ${m.os} · Linux ${m.kernel} · Node ${m.node} · ${m.openssh}\n`)
  process.stdout.write(`load average at start: ${m.loadAvgAtStart} (figures are only comparable on a quiet machine)\n\n`)

  try {
    if (opts.only.includes('join')) {
      const maxN = Math.max(...opts.ns)
      const fleet = Fleet.up({workers: maxN, joinLatency: opts.joinLatency, log})
      fleetUp = true
      const beltDir = join(workDir, '.belt')
      writeBeltCluster(beltDir, maxN, fleet.paths.clientKey)
      writeBeltCluster(beltDir, maxN, fleet.paths.clientKey, JUMP)
      const hostsFile = prepareFiles({workDir}, opts.ns)
      const remote = await remoteJoinCommand()
      const ctx = {fleet, workDir, beltDir, hostsFile, remote: remote.peers, beltRemote: remote.belt}
      const {belt, peers, reference} = tools(ctx)
      const rows: JoinRow[] = []
      const redacted = remote.peers.replace(/SWMTKN-[\w-]+/g, 'SWMTKN-…redacted')
      process.stdout.write(
        `## join: one real sshd answering on ${maxN} + 1 addresses, stand-in docker with ${opts.joinLatency} s join latency\n` +
          `OpenSSH peers: -o KexAlgorithms=curve25519-sha256 (the comparison is about orchestration, not post-quantum kex),\n` +
          `StrictHostKeyChecking=no + UserKnownHostsFile=/dev/null; belt: strict_host_key_checking: no (no host-key files on either side).\n` +
          `Remote command (${remote.source}), one connection and one exec per host; belt (and the ssh2 loop) send the join token\n` +
          `on stdin, the OpenSSH peers inline as the first line instead of \`IFS= read -r t …\` — otherwise the same string:\n` +
          redacted.split('\n').map((l) => '  ' + l).join('\n') + '\n\n',
      )
      const head = ['TOOL', 'N', 'CONC', 'WALL S', 'HOSTS/S', 'CPU S', 'CPU MS/HOST', 'PEAK RSS MB', 'PEAK PSS MB', 'PROCS', 'FAILURES', 'FLEET MS/HOST', 'SSH CONNS']
      const line = (r: JoinRow) => [
        r.tool, r.n, r.concurrency, f1(r.wallS), f0(r.hostsPerS), f1(r.cpuS), f1(r.cpuMsPerHost), f0(r.peakRssMB), r.peakPssMB > 0 ? f0(r.peakPssMB) : '-', r.peakProcs, r.failures, f1(r.serverCpuMsPerHost),
        r.sshConnections,
      ]
      const run = async (tool: ReturnType<typeof belt>, n: number) => {
        log(`${tool.name} N=${n} concurrency ${tool.concurrency} …`)
        const {row} = await runJoin(ctx, tool, n)
        rows.push(row)
        log(`  ${line(row).join('  ')}${row.note ? '  (' + row.note + ')' : ''}`)
        results.join = {remoteCommand: redacted, remoteSource: remote.source, joinLatencyS: opts.joinLatency, rows}
        save()
        return row
      }
      const want = (k: ToolKey) => opts.tools.includes(k)
      const peerKeys: ToolKey[] = ['xargs', 'pssh', 'ansible']
      for (const n of opts.ns) {
        if (want('belt')) await run(belt(100), n)
        for (const [i, p] of peers.entries()) if (want(peerKeys[i])) await run(p, n)
        if (want('ssh2')) await run(reference, n)
      }
      if (maxN >= 1000 && want('belt')) await run(belt(1000), maxN)
      // Behind a bastion: the same join with ssh_jump, every node session a channel inside one connection to it.
      const jumped = want('belt') ? await run(belt(100, 'bench-jump'), maxN) : null
      process.stdout.write(table(head, rows.map(line)) + '\n')
      process.stdout.write(
        '\nCPU = user + sys of the tool and every process it waited for (GNU time, getrusage RUSAGE_CHILDREN).\n' +
          'PEAK RSS: belt = its own max RSS; xargs/parallel-ssh/ansible = the peak of the summed RSS of the whole process tree\n' +
          '(the tool plus every concurrent ssh / fork), sampled from /proc every 100 ms (shared pages count once per process).\n' +
          'PEAK PSS: the same tree summed as PSS (shared pages split between their sharers: what it really occupies), sampled once a second.\n' +
          'ssh2 + p-limit loop = bench/ssh2-loop.mjs: key parsed once, one connection + one exec per host, nothing else (reference, not a target).\n' +
          'FAILURES = hosts not joined exactly once according to the stand-in docker log (reset between tools).\n' +
          'FLEET MS/HOST = CPU the simulated hosts (sshd, sh, stand-in docker) used per host, on the same cores as the tool.\n' +
          `SSH CONNS = new TCP connections from this machine to the fleet's port 22 during the run (iptables counter); (ssh_jump) = through ${JUMP}.\n\n`,
      )
      for (const r of rows.filter((x) => x.failures > 0 || x.exitCode !== 0)) process.stdout.write(`note: ${r.tool} N=${r.n}: ${r.failures} failures, exit ${r.exitCode}${r.note ? ' — ' + r.note : ''}\n`)

      // The CPU target is about scale: judged at the largest N. Smaller N are shown for information — there belt's
      // fixed start-up CPU (node, oclif, config of every host) weighs on few hosts.
      const pair = (n: number) => ({
        b: rows.find((r) => r.tool === 'belt swarm join' && r.n === n && r.concurrency === 100),
        x: rows.find((r) => r.tool.startsWith('xargs') && r.n === n),
      })
      const byN = [...opts.ns].sort((a, b) => b - a)
      for (const [i, n] of byN.entries()) {
        const {b, x} = pair(n)
        if (!b || !x) continue
        const ratio = b.cpuMsPerHost / x.cpuMsPerHost
        targets.push({
          target: i === 0 ? `orchestrator CPU per host ≤ 0.3× xargs -P100 ssh (N=${n})` : `  same at N=${n} (belt's start-up CPU included)`,
          value: `${f1(b.cpuMsPerHost)} vs ${f1(x.cpuMsPerHost)} ms/host = ${f2(ratio)}×`,
          pass: i === 0 ? ratio <= 0.3 && b.failures === 0 : null,
          note: i === 0 ? undefined : 'info',
        })
      }
      if (byN.length >= 2) {
        const [hi, lo] = [pair(byN[0]), pair(byN[1])]
        if (hi.b && hi.x && lo.b && lo.x) {
          const mb = ((hi.b.cpuS - lo.b.cpuS) * 1000) / (byN[0] - byN[1])
          const mx = ((hi.x.cpuS - lo.x.cpuS) * 1000) / (byN[0] - byN[1])
          targets.push({target: `  marginal CPU per extra host (N=${byN[1]}→${byN[0]})`, value: `${f1(mb)} vs ${f1(mx)} ms/host = ${f2(mb / mx)}×`, pass: null, note: 'info'})
        }
      }
      const b2 = rows.find((r) => r.tool === 'belt swarm join' && r.n === 2000 && r.concurrency === 100)
      const x2 = rows.find((r) => r.tool.startsWith('xargs') && r.n === 2000)
      if (b2 && x2) {
        const ratio = b2.wallS / x2.wallS
        targets.push({target: 'wall N=2000 @100 ≤ 0.8× xargs -P100 ssh', value: `${f1(b2.wallS)} vs ${f1(x2.wallS)} s = ${f2(ratio)}×`, pass: ratio <= 0.8 && b2.failures === 0})
      } else targets.push({target: 'wall N=2000 @100 ≤ 0.8× xargs -P100 ssh', value: 'not measured (N=2000 not in --n)', pass: null})
      if (jumped) {
        const direct = rows.find((r) => r.tool === 'belt swarm join' && r.n === maxN && r.concurrency === 100)
        targets.push({
          target: `N=${maxN} through a bastion: 1 connection to it (direct: ${maxN + 1})`,
          value: `${jumped.sshConnections} vs ${direct?.sshConnections ?? '-'} connections; ${f1(jumped.wallS)} vs ${direct ? f1(direct.wallS) : '-'} s; ` +
            `${jumped.failures} failures`,
          pass: jumped.sshConnections === 1 && jumped.failures === 0,
        })
      }
      const b1000 = rows.find((r) => r.tool.startsWith('belt') && r.concurrency === 1000)
      if (b1000 && b1000.n === 2000) {
        targets.push({target: 'N=2000 @1000: belt peak RSS ≤ 300 MB', value: `${f0(b1000.peakRssMB)} MB, ${b1000.failures} failures, ${f1(b1000.wallS)} s`, pass: b1000.peakRssMB <= 300 && b1000.failures === 0})
      } else targets.push({target: 'N=2000 @1000: belt peak RSS ≤ 300 MB', value: 'not measured (N=2000 not in --n)', pass: null})
      save()
      Fleet.down()
      fleetUp = false
    }

    if (opts.only.includes('boot')) {
      const sshN = opts.bootNs[0]
      const fleet = Fleet.up({workers: sshN, joinLatency: opts.joinLatency, log})
      fleetUp = true
      process.stdout.write(
        `## boot: belt create 1gb 'w[1:N]' --join mg0 against the fake DigitalOcean (250 requests/min, 5,000/hour), a stand-in\n` +
          'manager (mg0 of the simulated fleet) whose node list grows only when a simulated node boots (5–60 s after its create)\n' +
          'and its user data, run with sh (stand-in hostname/docker/curl), sends the current worker token to the manager address;\n' +
          `beside belt swarm join over SSH for the same ${sshN} hosts (the join section's fleet, ${opts.joinLatency} s join latency).\n\n`,
      )
      const beltDir = join(workDir, '.belt')
      writeBeltCluster(beltDir, sshN, fleet.paths.clientKey)
      const hostsFile = prepareFiles({workDir}, [sshN])
      const remote = await remoteJoinCommand()
      const ctx = {fleet, workDir, beltDir, hostsFile, remote: remote.peers, beltRemote: remote.belt}
      log(`belt swarm join N=${sshN} over SSH …`)
      const ssh = (await runJoin(ctx, tools(ctx).belt(100), sshN)).row
      const rows: BootRow[] = []
      const bootHead = ['MODE', 'N', 'WALL S', 'CPU S', 'CPU MS/WORKER', 'PEAK RSS MB', 'SSH CONNS', 'CREATES', 'LISTS', 'API REQ', '429S', 'JOINED',
        'READY AFTER LAST BOOT S']
      const bootLine = (r: BootRow) => [r.mode, r.n, f1(r.wallS), f2(r.cpuS), f2(r.cpuMsPerWorker), f0(r.peakRssMB), r.sshConnections, r.creates,
        r.lists, r.apiRequests, r.throttled, r.joined, f1(r.readyAfterLastBootS)]
      const sshLine = ['swarm join (SSH)', ssh.n, f1(ssh.wallS), f2(ssh.cpuS), f2(ssh.cpuMsPerHost), f0(ssh.peakRssMB), ssh.n + 1, '-', '-', '-', '-', ssh.n - ssh.failures, '-']
      for (const n of opts.bootNs) {
        const r = await runBootJoin({fleet, workDir, n, log})
        rows.push(r)
        log(`  ${bootLine(r).join('  ')}${r.note ? '  (' + r.note + ')' : ''}`)
        results.boot = {ssh, rows}
        save()
      }
      process.stdout.write(table(bootHead, [sshLine, ...rows.map(bootLine)]) + '\n')
      process.stdout.write(
        '\nCPU = user + sys of belt and what it waited for (GNU time). SSH CONNS = SYNs to mg0:22 counted in the fleet namespace\n' +
          '(the SSH row: one per host plus the manager). READY AFTER LAST BOOT = from the last simulated boot to belt\'s exit\n' +
          '(it saw every node Ready, then rotated the token).\n\n',
      )
      for (const r of rows) {
        const okAll = r.joined === r.n && r.exitCode === 0
        targets.push({target: `boot N=${r.n}: ≤ 3 SSH connections`, value: `${r.sshConnections}`, pass: r.sshConnections <= 3 && okAll})
        const maxLists = Math.ceil(r.n / 200)
        targets.push({target: `boot N=${r.n}: ≤ N/10 creates, ≤ 1 list per 200 names`, value: `${r.creates} creates, ${r.lists} lists (max ${r.n / 10}, ${maxLists})`, pass: r.creates <= r.n / 10 && r.lists <= maxLists})
        targets.push({target: `boot N=${r.n}: all Ready within 60 s of the last boot`, value: `${f1(r.readyAfterLastBootS)} s, ${r.joined}/${r.n} joined`, pass: r.readyAfterLastBootS <= 60 && okAll})
        targets.push({target: `boot N=${r.n}: hourly API limit (5,000) held`, value: `${r.apiRequests} requests, ${r.throttled} answered 429`, pass: r.apiRequests <= 5000})
        if (r.n === ssh.n) {
          const ratio = r.cpuMsPerWorker / ssh.cpuMsPerHost
          targets.push({target: `boot N=${r.n}: CPU per worker ≤ 0.1× belt swarm join over SSH`, value: `${f2(r.cpuMsPerWorker)} vs ${f2(ssh.cpuMsPerHost)} ms = ${f2(ratio)}×`, pass: ratio <= 0.1 && okAll})
        }
      }
      save()
      Fleet.down()
      fleetUp = false
    }

    if (opts.only.includes('api')) {
      const api: ApiResult = await runApi({
        quick: opts.quick,
        log,
        workDir,
        onRun: (runs) => {
          results.api = {partial: true, runs}
          save()
        },
      })
      results.api = api
      process.stdout.write(`## api: belt create + status --wait against the fake APIs (${api.latencyMs} ms per request, ${api.activeAfterS} s to active)\n`)
      const head = ['API', 'NODES', 'WALL S', 'CREATE S', 'WAIT S', 'REQUESTS', 'CREATE CALLS', 'LIST CALLS', 'THROTTLED', 'PEAK REQ/60S', 'CREATED', 'ACTIVE', 'EXIT']
      process.stdout.write(
        table(
          head,
          api.runs.map((r) => [r.api, r.nodes, f1(r.wallS), f1(r.createWallS), f1(r.waitWallS), r.requests, r.createCalls, r.listCalls, r.throttled, r.peakPerMinute, r.created, r.active, r.exitCodes.join('/')]),
        ) + '\n',
      )
      process.stdout.write('EXIT = exit codes of `belt create … --yes` / `belt status --wait active=N`; PEAK REQ/60S = most requests in any 60 s window.\n')
      for (const r of api.runs) {
        const calls = Object.entries(r.byCall).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
        process.stdout.write(`${r.api} requests by call: ${calls || '-'}\n`)
        if (r.error) process.stdout.write(`note: ${r.api}: ${r.error}\n`)
      }
      process.stdout.write('\n')
      const d = api.runs.find((r) => r.api === 'digitalocean')
      if (d && d.nodes === 2000 && !d.error) {
        targets.push({target: '2,000 droplets: ≤ 200 create calls', value: `${d.createCalls} create calls`, pass: d.createCalls <= 200 && d.active === 2000})
        targets.push({target: '2,000 droplets: never > 250 requests/minute', value: `peak ${d.peakPerMinute} requests in a 60 s window`, pass: d.peakPerMinute <= 250 && d.active === 2000})
      } else {
        targets.push({target: '2,000 droplets: ≤ 200 create calls, never > 250 requests/minute', value: d?.error ?? `not measured at 2,000 (${d?.nodes ?? 0})`, pass: null})
      }
      save()
    }

    if (opts.only.includes('tls')) {
      const tls: TlsResult = await runTls({nodes: 2000, log})
      results.tls = tls
      process.stdout.write(`## tls: CA + server certificates for ${tls.nodes} nodes (bench/tls.ts)\n`)
      if (tls.error) process.stdout.write(`not measured: ${tls.error}\n\n`)
      else
        process.stdout.write(
          `total ${f0(tls.totalMs)} ms (CA ${f0(tls.report!.caMs)} ms + nodes ${f0(tls.report!.totalMs)} ms), ${f2(tls.msPerNode)} ms/node, ` +
            `${tls.report!.keyType}, ${tls.report!.concurrency} in flight, process CPU ${f0(tls.report!.cpuMs)} ms\n\n`,
        )
      targets.push({target: 'TLS for 2,000 nodes ≤ 3 s', value: tls.error ? tls.error : `${f2(tls.totalMs / 1000)} s`, pass: tls.error ? null : tls.totalMs <= 3000})
      save()
    }

    if (opts.only.includes('startup')) {
      log('start-up: belt cluster ls vs node -e 0 …')
      const s: StartupResult = await runStartup(21)
      results.startup = s
      process.stdout.write(
        `## startup: \`belt cluster ls\` (${s.clusters} clusters) vs \`node -e 0\`, median of ${s.runs} runs each\n` +
          `belt cluster ls ${f0(s.beltMedianMs)} ms · node -e 0 ${f0(s.nodeMedianMs)} ms · ratio ${f2(s.ratio)}×\n\n`,
      )
      targets.push({target: 'start-up ≤ 5× bare node', value: `${f2(s.ratio)}× (${f0(s.beltMedianMs)} vs ${f0(s.nodeMedianMs)} ms)`, pass: s.ratio <= 5})
      // Name patterns are expanded before anything else runs: a quadratic slip would show here first.
      const started = process.hrtime.bigint()
      const names = expandPatterns(['w[1:100000]'], validateHostname)
      const expandMs = Number(process.hrtime.bigint() - started) / 1e6
      results.expand = {names: names.length, ms: expandMs}
      process.stdout.write(`## name patterns: w[1:100000] expanded and validated in ${f0(expandMs)} ms\n\n`)
      targets.push({target: 'expand 100,000 names ≤ 2 s', value: `${f0(expandMs)} ms`, pass: names.length === 100000 && expandMs <= 2000})
      save()
    }

    if (opts.only.includes('ops')) {
      const sshHosts = opts.quick ? 200 : 2000
      const scpHosts = opts.quick ? 100 : 500
      const {rows, cipher} = await runOps({
        sshHosts, scpHosts, scpBytes: 2 ** 20, memBytes: opts.opsMemMiB * 2 ** 20, memHosts: opts.opsMemHosts, memConcurrency: 100,
        log, workDir, onRow: (r) => { results.ops = {partial: true, rows: r}; save() },
      })
      fleetUp = false
      results.ops = {cipher, rows}
      process.stdout.write(`## ops: belt ssh / scp beside parallel-ssh / parallel-scp on the simulated fleet (one sshd, ${Math.max(sshHosts, scpHosts, opts.opsMemHosts)} addresses)\n` +
        `same key exchange (curve25519-sha256) and cipher (${cipher}) for every tool; no host-key files; concurrency 100\n`)
      const line = (r: OpsRow) => [r.tool, r.what, r.n, r.concurrency, f1(r.wallS), f1(r.cpuS), f2(r.cpuMsPerHost), f0(r.peakRssMB), r.failures]
      process.stdout.write(table(['TOOL', 'WHAT', 'N', 'CONC', 'WALL S', 'CPU S', 'CPU MS/HOST', 'PEAK RSS MB', 'FAILURES'], rows.map(line)) + '\n')
      process.stdout.write('PEAK RSS: belt = its own max RSS; parallel-ssh/-scp = the peak summed RSS of the tool and its ssh/scp processes.\n\n')
      for (const r of rows.filter((x) => x.note)) process.stdout.write(`note: ${r.tool} ${r.what}: ${r.note}\n`)
      const find = (tool: string, what?: RegExp) => rows.find((r) => r.tool === tool && (!what || what.test(r.what)))
      const pair = (b?: OpsRow, p?: OpsRow, name = '') => {
        if (!b || !p) return targets.push({target: name, value: 'not measured', pass: null})
        const ratio = b.cpuMsPerHost / p.cpuMsPerHost
        targets.push({target: name, value: `${f2(b.cpuMsPerHost)} vs ${f2(p.cpuMsPerHost)} ms/host = ${f2(ratio)}×`, pass: ratio <= 0.3 && b.failures === 0 && p.failures === 0})
      }
      pair(find('belt ssh'), find('parallel-ssh'), `belt ssh N=${sshHosts}: CPU per host ≤ 0.3× parallel-ssh`)
      pair(find('belt scp', /^\d+ MiB$/), find('parallel-scp'), `belt scp 1 MiB N=${scpHosts}: CPU per host ≤ 0.3× parallel-scp`)
      const rss = rows.filter((r) => r.tool.startsWith('belt'))
      targets.push({target: 'belt ssh / scp peak RSS ≤ 300 MB', value: rss.map((r) => `${r.tool.slice(5)} ${r.what} ${f0(r.peakRssMB)} MB`).join(', '),
        pass: rss.length > 0 && rss.every((r) => r.peakRssMB <= 300)})
      const smallScp = find('belt scp', /^\d+ MiB$/)
      const mem = find('belt scp', /memory/)
      if (smallScp && mem) {
        targets.push({target: `  scp RSS flat: ${mem.what.replace(' (memory)', '')} to ${mem.n} hosts vs 1 MiB to ${smallScp.n}`,
          value: `${f0(mem.peakRssMB)} vs ${f0(smallScp.peakRssMB)} MB, ${mem.failures} failures, ${f1(mem.wallS)} s`,
          pass: mem.peakRssMB <= 300 && mem.peakRssMB <= smallScp.peakRssMB * 1.5 + 20 && mem.failures === 0})
      }
      save()
    }

    if (opts.only.includes('up')) {
      const up: UpResult = await runUp({workers: opts.upN, joinLatencyS: opts.joinLatency, log, workDir, skipUp: opts.upWavesOnly})
      results.up = up
      reportUp(up, targets)
      save()
    }

    const loadEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
    results.loadAvgAtEnd = loadEnd
    process.stdout.write(`load average at end: ${loadEnd}\n\n`)
    process.stdout.write('## targets\n')
    process.stdout.write(table(['TARGET', 'MEASURED', 'RESULT'], targets.map((t) => [t.target, t.value, t.pass === null ? (t.note ?? 'not run') : t.pass ? 'pass' : 'MISS'])) + '\n')
    save()
    process.stdout.write(`\nresults: ${resultsPath}\n`)
  } finally {
    cleanup()
  }
}

function reportUp(up: UpResult, targets: Target[]): void {
  const n = up.workers + up.managers
  process.stdout.write(
    `## up: ${up.managers} managers + ${up.workers} workers, fake DigitalOcean (${up.latencyMs} ms per request, boots ${up.bootS[0]}–${up.bootS[1]} s, 250/min),\n` +
      `SSH lab (one sshd on ${n} addresses), stand-in docker with ${up.joinLatencyS} s join latency\n`,
  )
  const head = ['RUN', 'WALL S', 'TAIL S', 'TAIL→END S', 'OVERLAP S', 'REQUESTS', 'THROTTLED', 'PEAK REQ/60S', 'JOINED', 'MANAGERS']
  const row = (r: UpResult['runs'][number]) =>
    [r.mode, f1(r.wallS), f1(r.tailS), f1(r.tailToEndS), f1(r.overlapS), r.requests, r.throttled, r.peakPerMinute, `${r.joined}/${r.expected}`, r.managers]
  process.stdout.write(table(head, up.runs.map(row)) + '\n')
  process.stdout.write(
    'TAIL = last droplet active (the fake knows) → last node joined (stand-in state); TAIL→END = to the command\'s end;\n' +
      'OVERLAP = first worker joined → last droplet active (> 0: workers joined while others still booted).\n',
  )
  for (const r of up.runs) {
    process.stdout.write(`${r.mode} steps: ${r.steps.map((s) => `${s.step} ${f1(s.wallS)} s${s.code ? ` (exit ${s.code})` : ''}`).join(' · ') || '-'}\n`)
    const calls = Object.entries(r.byCall).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
    process.stdout.write(`${r.mode} requests by call: ${calls || '-'}\n`)
    if (r.error) process.stdout.write(`note: ${r.mode}: ${r.error} (log: ${r.logPath})\n`)
    if (r.rerun) {
      const rr = r.rerun
      process.stdout.write(`up re-run: ${f1(rr.wallS)} s, exit ${rr.code}, ${rr.requests} requests (${Object.entries(rr.byCall).map(([k, v]) => `${k} ${v}`).join(', ') || '-'}), ` +
        `SSH connections: managers ${rr.connections.managers}, workers ${rr.connections.workers}; created ${rr.created}, joined ${rr.joined}\n`)
    }
  }
  process.stdout.write('\n')
  const w = up.runs.find((r) => r.mode === 'waves')
  const u = up.runs.find((r) => r.mode === 'up')
  const size = `(3 + ${up.workers})`
  if (!u || u.error) {
    const why = u?.error ?? 'not run'
    for (const t of ['tail', 'total ≤ 0.9× waves', 'requests ≤ 250/min', 're-run']) targets.push({target: `up ${size}: ${t}`, value: why.slice(0, 90), pass: u ? false : null})
    return
  }
  const tailMax = up.joinLatencyS + up.pollS + 5
  targets.push({target: `up ${size}: tail ≤ join latency + poll + 5 s (${f1(tailMax)} s)`, value: `${f1(u.tailS)} s (to the end ${f1(u.tailToEndS)} s)`, pass: u.tailS <= tailMax})
  if (w && !w.error) {
    const ratio = u.wallS / w.wallS
    targets.push({target: `up ${size}: total ≤ 0.9× waves`, value: `${f1(u.wallS)} vs ${f1(w.wallS)} s = ${f2(ratio)}×`, pass: ratio <= 0.9})
  } else targets.push({target: `up ${size}: total ≤ 0.9× waves`, value: `waves: ${w?.error ?? 'not run'}`.slice(0, 90), pass: null})
  targets.push({target: `up ${size}: requests ≤ 250/min`, value: `peak ${u.peakPerMinute} in 60 s, ${u.throttled} throttled`, pass: u.peakPerMinute <= 250})
  const rr = u.rerun
  if (rr) {
    const conns = `${rr.connections.managers} manager / ${rr.connections.workers} worker SSH connections`
    targets.push({target: `up ${size}: re-run ≤ 20 requests, 1 SSH connection per manager, none to workers`, value: `${rr.requests} requests, ${conns}`,
      pass: rr.code === 0 && rr.requests <= 20 && rr.connections.managers <= up.managers && rr.connections.workers === 0 &&
        rr.created === 0 && rr.joined === 0})
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})

