// Reference row for the join bench: the least an ssh2-based orchestrator can do per host — the key parsed once,
// a p-limit pool, one connection and one exec per host, no host-key bookkeeping, no output kept beyond a line.
// Not a product: it shows how close belt's own per-host CPU is to what its stack costs with nothing else around it.
// Plain JavaScript so it runs on bare node (no TypeScript loader in the measured CPU).
//   node bench/ssh2-loop.mjs KEY USER CONCURRENCY HOSTS_FILE COMMAND [STDIN]   (STDIN is written to each command)
import {readFileSync} from 'node:fs'
import pLimit from 'p-limit'
import ssh2 from 'ssh2'

const [keyPath, user, conc, hostsFile, command, stdin] = process.argv.slice(2)
const privateKey = ssh2.utils.parseKey(readFileSync(keyPath))
if (privateKey instanceof Error) throw privateKey
const hosts = readFileSync(hostsFile, 'utf8').split('\n').filter(Boolean)
const limit = pLimit(Number(conc))
let failed = 0

function one(host) {
  return new Promise((resolve) => {
    const c = new ssh2.Client()
    const done = (ok) => {
      if (!ok) failed++
      c.end()
      resolve()
    }
    c.on('error', () => done(false))
    c.on('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return done(false)
        stream.on('data', () => {})
        stream.stderr.on('data', () => {})
        stream.on('close', (code) => done(code === 0))
        stream.end(stdin ?? '')
      })
    })
    let tried = false
    // The parsed key goes through authHandler (ssh2 re-parses a `privateKey` Buffer on every connect).
    const authHandler = (_methods, _partial, cb) => {
      cb(tried ? false : {type: 'publickey', username: user, key: privateKey})
      tried = true
    }
    c.connect({host, port: 22, username: user, authHandler, readyTimeout: 60_000, algorithms: {kex: ['curve25519-sha256']}})
  })
}

await Promise.all(hosts.map((h) => limit(() => one(h))))
process.stdout.write(`${hosts.length - failed} ok, ${failed} failed\n`)
process.exit(failed ? 1 : 0)
