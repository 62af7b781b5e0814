// Shell completion (`belt autocomplete bash|zsh|powershell`, @oclif/plugin-autocomplete), run as a user runs it.
// The bash completion is exercised in a real bash: the script belt writes is sourced and its completion function
// asked for what <TAB> offers after `belt`, `belt cluster `, `belt swarm j`, `belt context --`.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'
import {have} from '../lib/tools.js'
import {ok, usageLine} from '../lib/assert.js'

test('belt autocomplete bash|zsh|powershell: topics, commands and flags, completed in a real bash', async (t) => {
  const {dir, cleanup} = scratchDir('belt-autocomplete-')
  t.after(cleanup)
  // The completion cache lives under XDG_CACHE_HOME: a private one, so the user's own is never touched.
  const env = {HOME: dir, XDG_CACHE_HOME: join(dir, 'cache')}
  const run = (...args: string[]) => belt(args, {cwd: dir, env})

  const setup = ok(await run('autocomplete', 'bash'), 'autocomplete bash')
  assert.match(setup.stdout, /belt autocomplete script bash/, 'the instructions name the setup command')
  const script = ok(await run('autocomplete', 'script', 'bash'), 'autocomplete script bash')
  const setupPath = /BELT_AC_BASH_SETUP_PATH=(\S+)/.exec(script.stdout)?.[1]
  assert.ok(setupPath && existsSync(setupPath), `the setup file it names exists: ${script.stdout}`)
  const fnPath = /BELT_AC_BASH_COMPFUNC_PATH=(\S+)/.exec(readFileSync(setupPath, 'utf8'))?.[1]
  assert.ok(fnPath && existsSync(fnPath), 'the setup file names the completion function')
  const fn = readFileSync(fnPath, 'utf8')
  for (const line of [
    /^context --cluster --config --debug --use --rm --force$/m,
    /^version --cluster --config --debug --json$/m,
    /^cluster:new --cluster --config --debug --driver$/m,
    /^swarm:join .*--retry-failed --json --print-command$/m,
  ]) assert.match(fn, line)

  // In bash: what the function offers, as <TAB><TAB> would show it (bash shows each candidate once).
  const complete = (words: string[]) => [...new Set(execFileSync('bash', ['--norc', '--noprofile', '-c', [
    `source "$1"`,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`,
    '_belt_autocomplete; printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n'), 'bash', setupPath], {encoding: 'utf8', env: {PATH: process.env.PATH ?? '', HOME: dir}, stdio: ['ignore', 'pipe', 'pipe']})
    .split('\n').filter(Boolean))].sort()
  const top = complete(['belt', ''])
  for (const c of ['cluster', 'swarm', 'context', 'version', 'autocomplete', 'provision', 'env']) {
    assert.ok(top.includes(c), `belt <TAB> offers ${c}: ${top}`)
  }
  assert.deepEqual(complete(['belt', 'cl']), ['cluster'])
  assert.deepEqual(complete(['belt', 'cluster', '']), ['adopt', 'config', 'ls', 'new', 'rm', 'update', 'use'])
  assert.deepEqual(complete(['belt', 'swarm', 'j']), ['join'])
  assert.deepEqual(complete(['belt', 'context', '--']), ['--cluster', '--config', '--debug', '--force', '--rm', '--use'])
  assert.deepEqual(complete(['belt', 'swarm', 'join', '--re']), ['--retry-failed'])

  // zsh and PowerShell: their scripts name the same topics, commands and flags.
  ok(await run('autocomplete', 'zsh'), 'autocomplete zsh')
  ok(await run('autocomplete', 'powershell'), 'autocomplete powershell')
  const functions = join(fnPath, '..', '..')
  const zsh = readFileSync(join(functions, 'zsh', '_belt'), 'utf8')
  assert.match(zsh, /^_belt_cluster\(\) \{/m)
  assert.match(zsh, /^_belt_swarm\(\) \{/m)
  assert.match(zsh, /"context\[Create or update the docker context/)
  assert.match(zsh, /--use"\[also make it docker's current context/)
  const ps = readFileSync(join(functions, 'powershell', 'belt.ps1'), 'utf8')
  assert.match(ps, /"cluster" = @\{\n"_summary" = "Create, select, configure and remove cluster templates"/)
  assert.match(ps, /"context" = @\{/)
  assert.match(ps, /"rm" = @\{ "summary" = "remove the context instead" \}/)
  if (have('zsh')) execFileSync('zsh', ['-n', join(functions, 'zsh', '_belt')])

  usageLine(await run('autocomplete', 'fish'), /^belt: argument 'fish' must be one of zsh, bash, powershell/, 'autocomplete fish')
  usageLine(await run('autocomplete', '--frobnicate'), /^belt: unknown flag --frobnicate/, 'autocomplete --frobnicate')
})
