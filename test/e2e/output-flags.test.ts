// The output habits of gh/doctl/kubectl on every table: `-q` (names only) on list commands, `--no-header`, and
// `--columns a,b,c` (an unknown column is exit 2 naming it and the valid ones) — against the fake DigitalOcean API.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {belt, scratchDir} from '../lib/cli.js'
import {ok, usageLine} from '../lib/assert.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'

test('ls -q, --no-header, --columns on ls, cluster ls, status and firewall; unknown columns refused', async (t) => {
  const {dir, cleanup} = scratchDir('belt-output-')
  const fake = new FakeDigitalOcean({activeAfterMs: 100})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const run = (...args: string[]) => belt(args, {cwd: dir, env: {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}})
  ok(await run('cluster', 'new', 'out', '--driver', 'digitalocean', 'admin_cidr=203.0.113.0/24'), 'cluster new')
  ok(await run('cluster', 'new', 'other', '--driver', 'local'), 'cluster new other')
  ok(await run('use', 'out'), 'use out')
  ok(await run('create', '1gb', 'w[1:3]', 'w10', '--wait'), 'create')
  const nodes = JSON.parse(ok(await run('ls', '--json'), 'ls --json').stdout) as {name: string; public_ip: string; status: string}[]

  // -q: names in natural order, nothing else.
  assert.equal(ok(await run('ls', '-q'), 'ls -q').stdout, 'w1\nw2\nw3\nw10\n')
  assert.equal(ok(await run('ls', '--quiet', 'w[1:2]'), 'ls --quiet w[1:2]').stdout, 'w1\nw2\n')

  // --columns picks and orders; --no-header drops the header line.
  let lines = ok(await run('ls', '--columns', 'name,public_ip,status'), 'ls --columns').stdout.trimEnd().split('\n')
  assert.match(lines[0], /^NAME\s+PUBLIC IPV4\s+STATUS$/)
  assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)), nodes.map((n) => [n.name, n.public_ip, n.status]))
  lines = ok(await run('ls', '--columns', 'name,size,tags', '--no-header'), 'ls extra columns').stdout.trimEnd().split('\n')
  assert.equal(lines.length, 4)
  assert.match(lines[0], /^w1\s+s-1vcpu-1gb\s+\S*belt-cluster:out/)
  lines = ok(await run('ls', '--no-header'), 'ls --no-header').stdout.trimEnd().split('\n')
  assert.equal(lines.length, 4)
  assert.match(lines[0], /^w1\s+\d+\s+active\s/)

  usageLine(await run('ls', '--columns', 'name,bogus'),
    /^belt: --columns: unknown column 'bogus'; valid columns: name, id, status, public_ip, private_ip, memory, region, size, provider_status, tags$/, 'unknown column')
  usageLine(await run('ls', '--columns', ','), /--columns: name at least one column/, 'empty --columns')
  usageLine(await run('ls', '-q', '--columns', 'name'), /-q\/--quiet prints only the names: it takes no --columns/, '-q with --columns')
  usageLine(await run('ls', '--no-header=yes'), /--no-header takes no value/, '--no-header=yes')

  // cluster ls
  assert.equal(ok(await run('cluster', 'ls', '-q'), 'cluster ls -q').stdout, 'other\nout\n')
  assert.equal(ok(await run('cluster', 'ls', '--columns', 'name,active', '--no-header'), 'cluster ls').stdout.replace(/ +\n/g, '\n'), 'other\nout    *\n')
  usageLine(await run('cluster', 'ls', '--columns', 'nodes,zones'), /--columns: unknown column 'zones'; valid columns: name, active, driver, nodes$/, 'cluster ls')

  // status
  assert.equal(ok(await run('status', '--columns', 'status,count', '--no-header'), 'status').stdout, 'active  4\n')
  usageLine(await run('status', '--columns', 'names,total'), /--columns: unknown column 'total'; valid columns: status, count, names$/, 'status')

  // firewall
  lines = ok(await run('firewall', '--columns', 'ports,sources', '--no-header'), 'firewall').stdout.trimEnd().split('\n')
  assert.deepEqual(lines[0].split(/\s+/), ['22', '203.0.113.0/24'])
  usageLine(await run('firewall', '--columns', 'port'), /--columns: unknown column 'port'; valid columns: direction, protocol, ports, sources, note$/, 'firewall')
  // A bad --columns is refused before any API call.
  const before = fake.log.length
  usageLine(await run('ls', '--columns', 'ip'), /unknown column 'ip'/, 'ls --columns ip')
  assert.equal(fake.log.length, before)
})
