// Shared by the ec2 e2e tests: a scratch folder, a running fake EC2 server, and `run` passing AWS credentials and
// AWS_ENDPOINT_URL_EC2 like a user's shell (no ~/.aws files, no instance metadata lookups).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {TestContext} from 'node:test'
import {belt, RunOptions, RunResult, scratchDir} from '../lib/cli.js'
import {Ec2Fake, Ec2FakeOptions, TEST_CREDENTIALS} from '../fakes/ec2.js'

// Tests that call the fake through the SDK themselves: no Node-version notice on the test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

export const SECRET = TEST_CREDENTIALS.secretAccessKey

export async function setupEc2(t: TestContext, opts: Ec2FakeOptions = {}) {
  const {dir, cleanup} = scratchDir('belt-ec2-')
  const fake = new Ec2Fake({pendingMs: 200, ...opts})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const outputs: RunResult[] = []
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: SECRET, AWS_ENDPOINT_URL_EC2: url,
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true', BELT_POLL_INTERVAL_MS: '150',
  }
  const run = async (args: string[], extra: Partial<RunOptions> & {env?: Record<string, string | undefined>} = {}) => {
    const r = await belt(args, {cwd: dir, ...extra, env: {...env, ...extra.env}})
    outputs.push(r)
    return r
  }
  return {dir, fake, url, run, outputs, env}
}

export interface BatchRecord {id: string; client_token: string; names: string[]; instance_ids: string[] | null; named: boolean}

export function ec2State(dir: string, cluster: string): {nodes: Record<string, {id: string}>; active_node: string | null; batches: BatchRecord[]} {
  const s = JSON.parse(readFileSync(join(dir, '.belt', cluster, 'state.json'), 'utf8'))
  return {nodes: s.nodes, active_node: s.active_node, batches: s.provider?.ec2?.batches ?? []}
}

/** Names of the fake's live instances (by Name tag; untagged ones as '?<id>'), sorted naturally. */
export function liveNames(fake: Ec2Fake): string[] {
  return fake.live().map((i) => fake.tag(i, 'Name') ?? `?${i.instanceId}`).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
}

export function range(prefix: string, from: number, to: number): string[] {
  return Array.from({length: to - from + 1}, (_, k) => `${prefix}${from + k}`)
}

/** Poll a condition (no sleeps as synchronisation). */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
