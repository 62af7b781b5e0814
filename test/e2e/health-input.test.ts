// Bad input of status's swarm flags, logs and stats: exit 2, one stderr line naming the bad thing, nothing on stdout,
// before any host is reached (a generic cluster on loopback: no SSH login is tried).
import {test} from 'node:test'
import {belt, scratchDir} from '../lib/cli.js'
import {ok, usageLine} from '../lib/assert.js'

test('status, logs and stats refuse bad arguments and flags with one line (exit 2)', async (t) => {
  const {dir: cwd, cleanup} = scratchDir('belt-health-input-')
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd})
  ok(await run('cluster', 'new', 'hin', '--driver', 'generic', 'hosts.g1=127.0.0.1'), 'cluster new')
  const cases: [string[], RegExp][] = [
    [['status', '--wait', 'ready=x'], /^belt: --wait: expected STATUS=N \(e\.g\. active=3, ready=3\), got 'ready=x'$/],
    [['status', '--wait', 'healthy=3'], /^belt: --wait: unknown status 'healthy'; use one of new, active, off, gone, unreachable or ready \(swarm nodes\)$/],
    [['status', '--wait', 'ready=3', '--no-swarm'], /^belt: --wait ready=N reads the swarm: drop --no-swarm$/],
    [['status', '--swarm=no'], /^belt: --swarm takes no value/],
    [['logs'], /SERVICE/],
    [['logs', 'bad name!'], /^belt: SERVICE: 'bad name!' is not a service name \(SERVICE, SERVICE\.SLOT or SERVICE\.NODE\)$/],
    [['logs', 'web', '--tail', '-1'], /^belt: --tail: expected a number of lines or 'all', got '-1'$/],
    [['logs', 'web', '--tail', 'ten'], /^belt: --tail: expected a number of lines or 'all', got 'ten'$/],
    [['logs', 'web', '--since', 'yesterday'], /^belt: --since: expected a duration \(10m, 1h30m\), a date \(2026-01-02T13:23:37Z\) or unix seconds, got 'yesterday'$/],
    [['logs', 'web', '--timeout', '0'], /^belt: --timeout: 0 leaves no time/],
    [['logs', 'web'], /^belt: cluster 'hin' has no active node; set a manager with: belt active MANAGER$/],
    [['status', '--wait', 'ready=2'], /^belt: --wait ready=2: cluster 'hin' has no active node to read the swarm through \(belt swarm init MANAGER, or belt active MANAGER\)$/],
    [['stats'], /SERVICE/],
    [['stats', '-x'], /-x/],
    [['stats', 'web', '--interval', 'soon'], /^belt: --interval: invalid duration 'soon'/],
    [['stats', 'web', '--json'], /^belt: cluster 'hin' has no active node; set a manager with: belt active MANAGER$/],
  ]
  for (const [args, re] of cases) usageLine(await run(...args), re, args.join(' '))
})
