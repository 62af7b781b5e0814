// The fake DigitalOcean API's own rules, checked over HTTP as belt meets them: listings that lag behind creates and
// deletes (seeded, so a failure replays), request bodies that must be JSON sent as JSON, and the user_data limit.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {FakeDigitalOcean, USER_DATA_MAX_BYTES, type FakeOptions} from './digitalocean.js'

async function start(t: import('node:test').TestContext, opts: FakeOptions = {}) {
  const fake = new FakeDigitalOcean(opts)
  const url = await fake.start()
  t.after(() => fake.stop())
  const call = async (method: string, path: string, body?: string, contentType = 'application/json') => {
    const headers: Record<string, string> = {authorization: `Bearer ${fake.token}`}
    if (body !== undefined) headers['content-type'] = contentType
    const res = await fetch(`${url}${path}`, {method, headers, body})
    const text = await res.text()
    return {status: res.status, json: text ? JSON.parse(text) : undefined}
  }
  const create = (names: string[], extra: Record<string, unknown> = {}) =>
    call('POST', '/v2/droplets', JSON.stringify({names, region: 'nyc1', size: 's-1vcpu-1gb', image: 'docker-20-04', tags: ['t'], ...extra}))
  const listed = async () => ((await call('GET', '/v2/droplets?tag_name=t&per_page=200')).json.droplets as {name: string}[]).map((d) => d.name).sort()
  return {fake, call, create, listed}
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('listing lag: new droplets are found by id at once but listed only later; deleted ones stay listed a while', async (t) => {
  const {call, create, listed} = await start(t, {listingLag: {seed: 1, newMs: 1500, deletedMs: 1500}})
  const made = await create(['a1', 'a2', 'a3', 'a4', 'a5', 'a6'])
  assert.equal(made.status, 202)
  const ids = (made.json.droplets as {id: number}[]).map((d) => d.id)
  const first = await listed()
  assert.ok(first.length < 6, `some are not listed right after the create (listed: ${first.join(' ')})`)
  for (const id of ids) assert.equal((await call('GET', `/v2/droplets/${id}`)).status, 200, 'GET by id finds a new droplet at once')
  await until('all six listed', async () => (await listed()).length === 6)

  assert.equal((await call('DELETE', `/v2/droplets/${ids[0]}`)).status, 204)
  assert.equal((await call('DELETE', '/v2/droplets?tag_name=t')).status, 204)
  for (const id of ids) assert.equal((await call('GET', `/v2/droplets/${id}`)).status, 404, 'GET by id: gone at once')
  assert.ok((await listed()).length > 0, 'deleted droplets are still listed right after the delete')
  await until('none listed', async () => (await listed()).length === 0)
})

test('listing lag is seeded: the same seed lags the same droplets the same, another seed differently', async (t) => {
  const lags = async (seed: number) => {
    const {create, fake} = await start(t, {listingLag: {seed, newMs: 60_000, deletedMs: 0}})
    const made = await create(Array.from({length: 10}, (_, i) => `s${i}`))
    return (made.json.droplets as {id: number}[]).map((d) => Math.round(fake.listedAfterMs(d.id)))
  }
  const a = await lags(42)
  assert.ok(a.every((ms) => ms >= 0 && ms <= 60_000) && new Set(a).size > 1, a.join(' '))
  assert.deepEqual(await lags(42), a)
  assert.notDeepEqual(await lags(43), a)
})

test('without the knob, listings are exact at once', async (t) => {
  const {call, create, listed} = await start(t)
  const made = await create(['b1', 'b2'])
  assert.deepEqual(await listed(), ['b1', 'b2'])
  assert.equal((await call('DELETE', `/v2/droplets/${made.json.droplets[0].id}`)).status, 204)
  assert.deepEqual(await listed(), ['b2'])
})

test('request bodies: JSON as application/json (415 otherwise), malformed JSON is a 400, with DigitalOcean error bodies', async (t) => {
  const {call, fake} = await start(t)
  const body = JSON.stringify({name: 'k', public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x'})
  const form = await call('POST', '/v2/account/keys', body, 'application/x-www-form-urlencoded')
  assert.equal(form.status, 415)
  assert.equal(form.json.id, 'unsupported_media_type')
  assert.match(form.json.message, /application\/json/)
  const bad = await call('POST', '/v2/droplets', '{"names": ["x1",', 'application/json')
  assert.equal(bad.status, 400)
  assert.equal(bad.json.id, 'bad_request')
  assert.equal(fake.droplets.size, 0, 'nothing made from a refused body')
  const ok = await call('POST', '/v2/account/keys', body, 'application/json; charset=utf-8')
  assert.equal(ok.status, 201)
})

test('user_data: at most 64 KiB', async (t) => {
  const {create, fake} = await start(t)
  const over = await create(['u1'], {user_data: 'x'.repeat(USER_DATA_MAX_BYTES + 1)})
  assert.equal(over.status, 422)
  assert.equal(over.json.id, 'unprocessable_entity')
  assert.match(over.json.message, /user_data is 65537 bytes; the limit is 64 KiB/)
  assert.equal(fake.droplets.size, 0)
  const exact = await create(['u1'], {user_data: '#!/bin/sh\n'.padEnd(USER_DATA_MAX_BYTES, '#')})
  assert.equal(exact.status, 202)
})

test('staggered boots and assigned addresses: each droplet active after its own delay, with the caller\'s address', async (t) => {
  const boot: Record<string, number> = {b1: 100, b2: 1200}
  const given = ['10.221.0.2', '10.221.0.3']
  const {fake, create, call} = await start(t, {activeAfterMs: (name) => boot[name], assignAddress: () => {
    const a = given.shift()
    if (!a) throw new Error('the lab has no host left')
    return {public: a, private: a}
  }})
  assert.equal((await create(['b1', 'b2'])).status, 202)
  const status = async () => Object.fromEntries(((await call('GET', '/v2/droplets?tag_name=t')).json.droplets as {name: string; status: string; networks: {v4: {ip_address: string}[]}}[])
    .map((d) => [d.name, `${d.status} ${d.networks.v4.map((n) => n.ip_address).join(',')}`]))
  await until('b1 active', async () => (await status()).b1 !== 'new ')
  assert.deepEqual(await status(), {b1: 'active 10.221.0.2,10.221.0.2', b2: 'new '})
  await until('b2 active', async () => (await status()).b2 !== 'new ')
  assert.equal((await status()).b2, 'active 10.221.0.3,10.221.0.3')
  const at = fake.activeTimes()
  assert.ok(at.get('b2')! - at.get('b1')! >= 1000, 'the fake knows when each became active')
  const over = await create(['b3'])
  assert.equal(over.status, 422, 'no address left: refused, never an address nobody listens on')
  assert.match(over.json.message, /no address for b3: the lab has no host left/)
  assert.ok(fake.peakPerWindow() >= 4 && fake.peakPerWindow() <= fake.log.length)
  const fp = fake.seedKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRwTk1jbW0lUB9oGbXEyw0y4MbOZ7xC2FxKzZ0K3a1y lab')
  const keys = (await call('GET', '/v2/account/keys')).json.ssh_keys as {fingerprint: string}[]
  assert.deepEqual(keys.map((k) => k.fingerprint), [fp], 'a seeded key is on the account')
})
