// The lock around state.json's read-change-write (src/core/config/lock.ts), between real processes: two children
// hammering update() keep every change (and two changing one config.yml); a lock left by a SIGKILLed process is recovered; a lock held alive too long
// fails with a message naming the lock folder. And the create lock: waiting, the waiting callback, Ctrl-C.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import lockfile from 'proper-lockfile'
import {scratchDir} from '../../../lib/cli.js'
import {StateStore} from '../../../../src/core/config/state.js'
import {parseConfigText} from '../../../../src/core/config/store.js'
import {acquireLock} from '../../../../src/core/config/lock.js'
import {Interrupted, PartialFailure} from '../../../../src/core/errors.js'

const STATE_TS = fileURLToPath(new URL('../../../../src/core/config/state.ts', import.meta.url))
const STORE_TS = fileURLToPath(new URL('../../../../src/core/config/store.ts', import.meta.url))
const UPDATE_TS = fileURLToPath(new URL('../../../../src/core/config/update.ts', import.meta.url))

/** A child node process (TypeScript through tsx) running `code`; resolves on exit, `ready` once it prints "ready". */
function child(code: string) {
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  p.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  p.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const ready = new Promise<void>((resolve, reject) => {
    p.stdout.on('data', () => out.includes('ready') && resolve())
    p.on('exit', () => reject(new Error(`child exited before it was ready: ${err}`)))
  })
  ready.catch(() => {})
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}>((resolve) => {
    p.on('exit', (c, s) => resolve({code: c, signal: s, stderr: err}))
  })
  return {p, ready, exited}
}

test('two processes hammering update() on one state.json keep every change', async (t) => {
  const {dir, cleanup} = scratchDir('belt-lock-')
  t.after(cleanup)
  // Both start at the same moment (after their start-up), so their updates really interleave.
  const start = Date.now() + 3000
  const hammer = (who: string) => child(`
    const {StateStore} = await import(${JSON.stringify(STATE_TS)})
    const store = new StateStore(${JSON.stringify(dir)})
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ${start} - Date.now()))
    for (let i = 0; i < 300; i++) store.update((s) => { s.nodes['${who}' + i] = {id: String(i)} })
  `)
  const results = await Promise.all([hammer('a').exited, hammer('b').exited])
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  const nodes = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).nodes
  assert.equal(Object.keys(nodes).length, 600, 'no change lost')
  assert.ok(!existsSync(join(dir, 'state.json.lock')), 'the lock is released')
})

test('two processes changing one config.yml (cluster update) keep every change, comments included', async (t) => {
  const {dir, cleanup} = scratchDir('belt-lock-')
  t.after(cleanup)
  const path = join(dir, 'config.yml')
  writeFileSync(path, 'driver: generic\ngeneric:\n  ssh_user: root # who logs in\n  hosts: {}\n')
  const start = Date.now() + 3000
  const hammer = (who: string) => child(`
    const {updateConfigFile} = await import(${JSON.stringify(STORE_TS)})
    const {applyAssignments} = await import(${JSON.stringify(UPDATE_TS)})
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ${start} - Date.now()))
    for (let i = 0; i < 60; i++) {
      updateConfigFile(${JSON.stringify(path)}, (cfg) => applyAssignments(cfg.doc, cfg.driver, ['hosts.${who}' + i + '=203.0.113.' + (i + 1)], 'test'))
    }
  `)
  const results = await Promise.all([hammer('a').exited, hammer('b').exited])
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  const text = readFileSync(path, 'utf8')
  const cfg = parseConfigText(text, path)
  assert.equal(Object.keys(cfg.block.hosts as object).length, 120, 'no change lost')
  assert.match(text, /ssh_user: root # who logs in/)
})

test('a state lock left by a SIGKILLed process is recovered', async (t) => {
  const {dir, cleanup} = scratchDir('belt-lock-')
  t.after(cleanup)
  const holder = child(`
    const {default: lockfile} = await import('proper-lockfile')
    lockfile.lockSync(${JSON.stringify(join(dir, 'state.json'))}, {realpath: false, stale: 5000})
    console.log('ready')
    setInterval(() => {}, 1000)
  `)
  await holder.ready
  holder.p.kill('SIGKILL')
  assert.equal((await holder.exited).signal, 'SIGKILL')
  assert.ok(existsSync(join(dir, 'state.json.lock')), 'the killed process left its lock')
  new StateStore(dir).update((s) => { s.active_node = 'n1' })
  assert.equal(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).active_node, 'n1')
  assert.ok(!existsSync(join(dir, 'state.json.lock')))
})

test('a state lock held alive for too long: update() fails naming the lock folder', async (t) => {
  const {dir, cleanup} = scratchDir('belt-lock-')
  t.after(cleanup)
  // A live holder keeps the lock's mtime fresh, so it never goes stale.
  const holder = child(`
    const {default: lockfile} = await import('proper-lockfile')
    await lockfile.lock(${JSON.stringify(join(dir, 'state.json'))}, {realpath: false, stale: 5000, update: 1000})
    console.log('ready')
    setInterval(() => {}, 1000)
  `)
  t.after(() => holder.p.kill('SIGKILL'))
  await holder.ready
  assert.throws(() => new StateStore(dir).update((s) => { s.active_node = 'n1' }),
    (e: unknown) => e instanceof PartialFailure && e.message.includes(join(dir, 'state.json.lock')) && /stayed locked by another belt process/.test(e.message))
  assert.ok(!existsSync(join(dir, 'state.json')), 'nothing written')
})

test('the create lock: a second holder waits (told once), gets it on release, and Ctrl-C while waiting is Interrupted', async (t) => {
  const {dir, cleanup} = scratchDir('belt-lock-')
  t.after(cleanup)
  const path = join(dir, 'c', 'create')
  const holder = child(`
    const {default: lockfile} = await import('proper-lockfile')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(${JSON.stringify(join(dir, 'c'))}, {recursive: true})
    await lockfile.lock(${JSON.stringify(path)}, {realpath: false, stale: 10000, update: 1000})
    console.log('ready')
    setInterval(() => {}, 1000)
  `)
  await holder.ready

  const ac = new AbortController()
  let told = 0
  const waiting = acquireLock(path, {waitMs: 60_000, signal: ac.signal, what: 'the test holder', onWait: () => { told++ }})
  const end = Date.now() + 10_000
  while (told === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  assert.equal(told, 1, 'told once that it waits')
  ac.abort()
  await assert.rejects(waiting, (e: unknown) => e instanceof Interrupted && /interrupted while waiting for the test holder/.test((e as Error).message))

  const second = acquireLock(path, {waitMs: 60_000, what: 'the test holder'})
  // proper-lockfile releases its locks when the process ends on a signal it can catch.
  holder.p.kill('SIGTERM')
  await holder.exited
  const release = await second
  assert.ok(existsSync(path + '.lock'))
  await release()
  assert.ok(!existsSync(path + '.lock'))
  assert.ok(lockfile.checkSync(path, {realpath: false}) === false)
})
