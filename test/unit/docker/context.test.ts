// The pure parts of the cluster's docker context: its name, the description that carries the cluster id, and the
// `--docker` value docker reads as one CSV record (paths with commas or quotes must arrive whole).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {contextClusterId, contextDescription, contextName, csvField, dockerEndpoint, tcpHost} from '../../../src/docker/context.js'

/** RFC 4180 as Go's encoding/csv reads one record (what docker does with --docker). */
function parseCsvRecord(s: string): string[] {
  const fields: string[] = []
  let i = 0
  while (i <= s.length) {
    let field = ''
    if (s[i] === '"') {
      i++
      while (i < s.length && !(s[i] === '"' && s[i + 1] !== '"')) {
        field += s[i]
        i += s[i] === '"' ? 2 : 1
      }
      i++
    } else {
      while (i < s.length && s[i] !== ',') field += s[i++]
    }
    fields.push(field)
    i++
  }
  return fields
}

test('name and description: the cluster id is read back, anything else is not belt\'s', () => {
  assert.equal(contextName({name: 'demo'}), 'belt-demo')
  const d = contextDescription({name: 'demo'}, '0123456789abcdef')
  assert.equal(d, 'belt cluster demo (cluster_id 0123456789abcdef)')
  assert.equal(contextClusterId(d), '0123456789abcdef')
  assert.equal(contextClusterId('belt cluster demo'), null)
  assert.equal(contextClusterId('my staging engine'), null)
  assert.equal(contextClusterId('(cluster_id XYZ)'), null)
  assert.equal(contextClusterId(''), null)
})

test('tcp host: IPv6 in brackets, port 2376', () => {
  assert.equal(tcpHost('203.0.113.10'), 'tcp://203.0.113.10:2376')
  assert.equal(tcpHost('2001:db8::2'), 'tcp://[2001:db8::2]:2376')
})

test('--docker value: fields with commas or quotes are quoted and read back whole', () => {
  assert.equal(csvField('ca=/a/b.pem'), 'ca=/a/b.pem')
  assert.equal(csvField('ca=/a,b/c.pem'), '"ca=/a,b/c.pem"')
  assert.equal(csvField('ca=/a"b/c.pem'), '"ca=/a""b/c.pem"')
  const paths = {ca: '/x/it\'s, "odd"/ca.pem', cert: '/x/plain/cert.pem', key: '/x/sp ace/key.pem'}
  const value = dockerEndpoint('tcp://[2001:db8::2]:2376', paths)
  assert.deepEqual(parseCsvRecord(value), ['host=tcp://[2001:db8::2]:2376', `ca=${paths.ca}`, `cert=${paths.cert}`, `key=${paths.key}`])
})
