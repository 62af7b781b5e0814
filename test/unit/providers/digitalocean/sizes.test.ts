// SIZE → DigitalOcean slug: memory sizes and the cheapest-slug mapping.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {chooseSize, parseMemorySize, DoSize} from '../../../../src/providers/digitalocean/sizes.js'
import {UsageError} from '../../../../src/core/errors.js'

test('memory sizes', () => {
  assert.equal(parseMemorySize('512mb'), 512)
  assert.equal(parseMemorySize('8192MB'), 8192)
  assert.equal(parseMemorySize('1gb'), 1024)
  assert.equal(parseMemorySize('2GB'), 2048)
  assert.equal(parseMemorySize('s-1vcpu-1gb'), null)
  assert.equal(parseMemorySize('0mb'), null)
})

const sizes: DoSize[] = [
  {slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, price_monthly: 6, regions: ['nyc1', 'sgp1'], available: true},
  {slug: 's-1vcpu-1gb-amd', memory: 1024, vcpus: 1, price_monthly: 7, regions: ['nyc1', 'sgp1'], available: true},
  {slug: 'a-4vcpu-8gb', memory: 8192, vcpus: 4, price_monthly: 48, regions: ['nyc1'], available: true},
  {slug: 'b-2vcpu-8gb', memory: 8192, vcpus: 2, price_monthly: 48, regions: ['nyc1'], available: true},
  {slug: 'c-1vcpu-8gb', memory: 8192, vcpus: 1, price_monthly: 40, regions: ['nyc1'], available: false},
  {slug: 's-2vcpu-2gb', memory: 2048, vcpus: 2, price_monthly: 18, regions: ['sgp1'], available: true},
]

test('size mapping: cheapest available slug with exactly that memory in the region; ties → fewer vCPUs', () => {
  assert.deepEqual(chooseSize('1gb', sizes, 'nyc1').slug, 's-1vcpu-1gb')
  const big = chooseSize('8192MB', sizes, 'nyc1')
  assert.equal(big.slug, 'b-2vcpu-8gb', 'same price: fewer vCPUs wins; unavailable sizes never')
  assert.match(big.note!, /8192MB → b-2vcpu-8gb \(cheapest with 8 GB in nyc1: 2 vCPUs, \$48\/mo\)/)
  assert.equal(chooseSize('s-1vcpu-1gb-amd', sizes, 'sgp1').note, null, 'a slug passes through')
  assert.throws(() => chooseSize('2gb', sizes, 'nyc1'), (e: Error) => e instanceof UsageError && /exactly 2 GB in nyc1/.test(e.message))
  assert.throws(() => chooseSize('a-4vcpu-8gb', sizes, 'sgp1'), /not available in sgp1/)
  assert.throws(() => chooseSize('huge', sizes, 'nyc1'), /unknown size 'huge'/)
})
