// Bad `swarm:` blocks and bad `belt up` / `belt down` use: exit 2, one stderr line naming the key, nothing changed.
// No hosts are made: every case is refused while the config is read or before the plan runs.
import {test, before, after} from 'node:test'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import assert from 'node:assert/strict'
import {belt, scratchDir} from '../lib/cli.js'
import {usageLine} from '../lib/assert.js'

let cwd: string
let cleanup: () => void
before(() => { ({dir: cwd, cleanup} = scratchDir('belt-up-errors-')) })
after(() => cleanup())

async function upWith(config: string, ...args: string[]) {
  writeFileSync(join(cwd, 'c.yml'), config)
  return belt(['--config', 'c.yml', 'up', '--plan', ...args], {cwd})
}

const local = 'driver: local\nlocal:\n  subnet: 10.219.9.0/24\n'
const doHead = 'driver: digitalocean\ndigitalocean:\n  region: nyc1\n'

const cases: [string, string, RegExp][] = [
  ['even manager count', `${local}swarm:\n  managers:\n    names: 'mg[0:3]'\n`, /'swarm\.managers\.names' must name 1, 3, 5 or 7 managers .*got 4/],
  ['more than 7 managers', `${local}swarm:\n  managers:\n    names: 'mg[1:9]'\n`, /'swarm\.managers\.names' must name 1, 3, 5 or 7 managers .*got 9/],
  ['no managers', `${local}swarm:\n  workers: []\n`, /'swarm\.managers' must be a map with names/],
  ['unknown swarm key', `${local}swarm:\n  managers: {names: mg0}\n  pools: []\n`, /unknown key 'swarm\.pools'; valid keys: managers, workers, join, tls/],
  ['unknown manager key', `${local}swarm:\n  managers: {names: mg0, count: 3}\n`, /unknown key 'swarm\.managers\.count'/],
  ['pool without name', `${local}swarm:\n  managers: {names: mg0}\n  workers:\n    - {name: a, names: 'a[1:2]'}\n    - {names: 'w[1:2]'}\n`,
    /'swarm\.workers\[1\]\.name' is missing: every pool needs a name/],
  ['duplicate pool names', `${local}swarm:\n  managers: {names: mg0}\n  workers:\n    - {name: web, names: 'a[1:2]'}\n    - {name: web, names: 'w[1:2]'}\n`,
    /'swarm\.workers\[1\]\.name' 'web' is also the name of swarm\.workers\[0\]/],
  ['pools overlap', `${local}swarm:\n  managers: {names: mg0}\n  workers:\n    - {name: a, names: 'w[1:5]'}\n    - {name: b, names: 'w[5:9]'}\n`,
    /'swarm\.workers\[1\]\.names' \('w\[5:9\]'\) overlaps swarm\.workers\[0\]\.names at 'w5'/],
  ['pool overlaps managers', `${local}swarm:\n  managers: {names: 'n[0:2]'}\n  workers:\n    - {name: a, names: 'n[2:4]'}\n`,
    /'swarm\.workers\[0\]\.names' \('n\[2:4\]'\) overlaps swarm\.managers\.names at 'n2'/],
  ['reserved pool name', `${local}swarm:\n  managers: {names: mg0}\n  workers:\n    - {name: managers, names: 'w1'}\n`, /'swarm\.workers\[0\]\.name' 'managers' is the managers' own pool name/],
  ['bad pool name', `${local}swarm:\n  managers: {names: mg0}\n  workers:\n    - {name: 'Web Pool', names: 'w1'}\n`, /'swarm\.workers\[0\]\.name' must be lowercase/],
  ['bad node name', `${local}swarm:\n  managers: {names: 'mg_0'}\n`, /'swarm\.managers\.names': invalid node name 'mg_0'/],
  ['cloud-init with tls all', `${local}swarm:\n  managers: {names: mg0}\n  join: cloud-init\n  tls: all\n`, /'swarm\.tls' cannot be 'all' with join: cloud-init/],
  ['bad join', `${local}swarm:\n  managers: {names: mg0}\n  join: telepathy\n`, /'swarm\.join' must be one of ssh \| cloud-init/],
  ['bad tls', `${local}swarm:\n  managers: {names: mg0}\n  tls: some\n`, /'swarm\.tls' must be one of managers \| all \| none/],
  ['bad drain', `${local}swarm:\n  managers: {names: mg0, drain: maybe}\n`, /'swarm\.managers\.drain' must be true or false/],
  ['bad label', `${local}swarm:\n  managers: {names: mg0}\n  workers:\n    - {name: w, names: w1, labels: {belt.zone: x}}\n`, /'swarm\.workers\[0\]\.labels\.belt\.zone' is set by belt/],
  ['unknown DigitalOcean region', `${doHead}swarm:\n  managers: {names: mg0, size: 1gb, zones: [nyc1, mars1]}\n`,
    /'swarm\.managers\.zones\[1\]': unknown DigitalOcean region "mars1"/],
  ['DigitalOcean size missing', `${doHead}swarm:\n  managers: {names: mg0}\n`, /'swarm\.managers\.size' is missing/],
  ['EC2 zone not a subnet', 'driver: ec2\nec2:\n  region: us-east-1\nswarm:\n  managers: {names: mg0, size: t3.small}\n  workers:\n    - {name: w, names: w1, size: t3.small, zones: [us-east-1a]}\n',
    /'swarm\.workers\[0\]\.zones\[0\]': an EC2 zone is a subnet id/],
  ['local zone label', `${local}swarm:\n  managers: {names: mg0, zones: ['a b']}\n`, /'swarm\.managers\.zones\[0\]': a zone label uses letters/],
]

for (const [what, config, re] of cases) {
  test(`belt up refuses: ${what}`, async () => {
    usageLine(await upWith(config), re, what)
  })
}

test('belt up without a swarm: block says how to add one', async () => {
  usageLine(await upWith(local), /has no swarm: block in .*c\.yml; add one .*belt cluster update swarm\.managers\.names=/, 'no block')
})

test('cluster update swarm.… is checked like the file: exit 2 naming the key, config.yml unchanged', async () => {
  const r0 = await belt(['cluster', 'new', 'ue', '--driver', 'local', 'subnet=10.219.9.0/24'], {cwd})
  assert.equal(r0.code, 0, r0.stderr)
  usageLine(await belt(['cluster', 'update', 'swarm.managers.names=mg[0:1]'], {cwd}), /'swarm\.managers\.names' must name 1, 3, 5 or 7 managers/, 'even')
  usageLine(await belt(['cluster', 'update', 'swarm.managers.names=mg0', 'swarm.workers.web.size=1gb'], {cwd}),
    /'swarm\.workers\[0\]\.names' must be a name pattern/, 'pool without names')
  usageLine(await belt(['cluster', 'update', 'swarm.managers.names=mg0', 'swarm.workers.web.names=mg0'], {cwd}),
    /'swarm\.workers\[0\]\.names' \('mg0'\) overlaps swarm\.managers\.names/, 'overlap')
  const ok = await belt(['cluster', 'update', 'swarm.managers.names=mg[0:2]', 'swarm.workers.web.names=w[1:2]', 'swarm.workers.web.size=2gb'], {cwd})
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /^\+ swarm\.workers\.web\.size: "2gb"$/m)
  const plan = await belt(['up', '--plan', '--json'], {cwd})
  assert.equal(plan.code, 0, plan.stderr)
  assert.deepEqual(JSON.parse(plan.stdout).plan.create, ['mg0', 'mg1', 'mg2', 'w1', 'w2'])
})

test('belt up flags: --concurrency 0 and belt down without --yes off a terminal', async () => {
  writeFileSync(join(cwd, 'c.yml'), `${local}swarm:\n  managers: {names: mg0}\n`)
  const c = await belt(['--config', 'c.yml', 'up', '--concurrency', '0'], {cwd})
  assert.equal(c.code, 2)
  usageLine(await belt(['--config', 'c.yml', 'down'], {cwd}), /refusing without a terminal; pass --yes/, 'down without --yes')
})
