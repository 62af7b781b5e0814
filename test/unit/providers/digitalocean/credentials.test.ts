// The token and API origin rules: where the DigitalOcean token comes from and where it may be sent.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {resolveEndpoint, resolveToken} from '../../../../src/providers/digitalocean/credentials.js'
import {UsageError} from '../../../../src/core/errors.js'

test('API origin: without /v2; a trailing / or /v2 is tolerated; the token is required', () => {
  assert.equal(resolveEndpoint({}, {}).endpoint, 'https://api.digitalocean.com/v2')
  assert.equal(resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'http://127.0.0.1:9/'}).endpoint, 'http://127.0.0.1:9/v2')
  assert.equal(resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'http://127.0.0.1:9/v2/'}).endpoint, 'http://127.0.0.1:9/v2')
  assert.equal(resolveEndpoint({api_url: 'https://proxy.example/do/v2'}, {}).endpoint, 'https://proxy.example/do/v2')
  assert.throws(() => resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'nope'}), /DIGITALOCEAN_API_URL/)
  assert.throws(() => resolveToken({}, {}), (e: Error) => e instanceof UsageError && /DIGITALOCEAN_ACCESS_TOKEN/.test(e.message))
  assert.equal(resolveToken({access_token: 'from-config-123'}, {DIGITALOCEAN_ACCESS_TOKEN: 'from-env-123'}), 'from-env-123')
})

test('API origin: plain http only to loopback addresses; a non-default origin is named with its source', () => {
  for (const ok of ['http://127.0.0.1:9', 'http://127.8.0.1', 'http://localhost:8080/', 'http://[::1]:9/v2']) {
    assert.doesNotThrow(() => resolveEndpoint({}, {DIGITALOCEAN_API_URL: ok}), ok)
  }
  for (const bad of ['http://10.0.0.1', 'http://api.example.com', 'http://127.0.0.1.example.com', 'http://[::2]']) {
    assert.throws(() => resolveEndpoint({}, {DIGITALOCEAN_API_URL: bad}), (e: Error) => e instanceof UsageError && /^DIGITALOCEAN_API_URL: .*plain http/.test(e.message), bad)
    assert.throws(() => resolveEndpoint({api_url: bad}, {}), (e: Error) => e instanceof UsageError && /^api_url: .*plain http/.test(e.message), bad)
  }
  assert.equal(resolveEndpoint({}, {}).source, null)
  assert.equal(resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'https://api.digitalocean.com/v2'}).source, null)
  assert.equal(resolveEndpoint({api_url: 'https://proxy.example'}, {}).source, 'api_url')
})
