// Resolving which cluster a command acts on (CONTRACT §1 precedence) and its merged settings.
import {existsSync, mkdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {UsageError} from '../errors.js'
import {checkClusterName, ensureBeltDir, findBeltDir, listClusterNames, readActiveCluster, readConfigFile} from './store.js'
import {Driver, resolveSettings, Settings, type SwarmBlock} from './schema.js'
import {StateStore} from './state.js'

export interface Cluster<D extends Driver = Driver> {
  name: string
  /** `.belt/<name>/`: state.json, known_hosts, ssh/, certs/. Created on first write. */
  dir: string
  configPath: string
  driver: D
  /** config.yml's cluster_id (CONTRACT §9); null until something is created (identity.ts ensureClusterId). */
  id: string | null
  /** Defaults merged with the driver block, typed by the schema: what providers, ssh and provision read. */
  settings: Settings<D>
  /** The driver block as written by the user (no defaults). */
  block: Record<string, unknown>
  /** The `swarm:` block (CONTRACT §10) `belt up` converges to; null when config.yml has none. */
  swarm?: SwarmBlock | null
  state: StateStore
}

export interface ClusterSelection {
  /** --config FILE */
  config?: string
  /** --cluster NAME */
  cluster?: string
  cwd?: string
  env?: NodeJS.ProcessEnv
}

export function loadClusterAt(name: string, dir: string, configPath: string): Cluster {
  const cfg = readConfigFile(configPath)
  const settings = resolveSettings(cfg.driver, cfg.block)
  return {name, dir, configPath, driver: cfg.driver, id: cfg.clusterId, settings, block: cfg.block, swarm: cfg.swarm, state: new StateStore(dir)}
}

/** Which cluster: --config > --cluster/BELT_CLUSTER > active cluster in .belt/ > .belt.yml. */
export function resolveCluster(sel: ClusterSelection = {}): Cluster {
  const env = sel.env ?? process.env
  const cwd = sel.cwd ?? process.cwd()
  if (sel.config) {
    const path = resolve(cwd, sel.config)
    if (!existsSync(path)) throw new UsageError(`--config: file ${sel.config} does not exist`)
    return defaultCluster(path, cwd, env)
  }
  const beltDir = findBeltDir(cwd, env)
  const named = sel.cluster ?? env.BELT_CLUSTER
  if (named) {
    checkClusterName(named)
    const dir = beltDir ? join(beltDir, named) : null
    if (!dir || !existsSync(join(dir, 'config.yml'))) {
      const known = beltDir ? listClusterNames(beltDir) : []
      throw new UsageError(`no cluster named '${named}'${known.length ? `; clusters: ${known.join(', ')}` : '; create it with: belt cluster new ' + named + ' --driver DRIVER'}`)
    }
    return loadClusterAt(named, dir, join(dir, 'config.yml'))
  }
  if (beltDir) {
    const active = readActiveCluster(beltDir)
    if (active && existsSync(join(beltDir, active, 'config.yml'))) {
      return loadClusterAt(active, join(beltDir, active), join(beltDir, active, 'config.yml'))
    }
  }
  for (const f of ['.belt.yml', '.belt.yaml']) {
    const path = join(resolve(cwd), f)
    if (existsSync(path)) return defaultCluster(path, cwd, env)
  }
  const known = beltDir ? listClusterNames(beltDir) : []
  if (known.length) throw new UsageError(`no active cluster; choose one with: belt use ${known[0]} (clusters: ${known.join(', ')})`)
  throw new UsageError('no cluster: create one with `belt cluster new NAME --driver digitalocean|ec2|generic|local` or write a .belt.yml')
}

/** A config file outside `.belt/` is the cluster named `default`; its state lives in `.belt/default/`. */
function defaultCluster(configPath: string, cwd: string, env: NodeJS.ProcessEnv): Cluster {
  const beltDir = findBeltDir(cwd, env) ?? join(resolve(cwd), '.belt')
  return loadClusterAt('default', join(beltDir, 'default'), configPath)
}

/** Make sure the cluster's folder exists (with .belt/.gitignore) before writing into it. */
export function ensureClusterDir(cluster: Cluster): string {
  const beltDir = join(cluster.dir, '..')
  ensureBeltDir(beltDir.replace(/\/\.belt$/, ''), {...process.env, BELT_DIR: beltDir})
  mkdirSync(cluster.dir, {recursive: true})
  return cluster.dir
}
