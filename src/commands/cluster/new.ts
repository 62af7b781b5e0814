import {Args, Flags} from '@oclif/core'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {UsageError} from '../../core/errors.js'
import {DRIVERS} from '../../core/config/schema.js'
import {templatePath} from '../../core/paths.js'
import {checkClusterName, ensureBeltDir, parseConfigText, readActiveCluster, writeActiveCluster, writeConfigFile} from '../../core/config/store.js'
import {applyAssignments} from '../../core/config/update.js'
import {newClusterId, setClusterId} from '../../core/config/identity.js'
import {info, warnSecretInConfig} from '../../ui/output.js'

export default class ClusterNew extends BeltCommand {
  static description = 'Create a cluster template in .belt/NAME/config.yml from the driver\'s commented template'
  static examples = [
    '<%= config.bin %> cluster new swarm2k --driver digitalocean region=sgp1',
    '<%= config.bin %> cluster new aws --driver ec2 admin_cidr=203.0.113.0/24',
    '<%= config.bin %> cluster new lab --driver local',
    "<%= config.bin %> cluster new mine --driver generic hosts.mg0=203.0.113.10 hosts.w1=203.0.113.11",
    '<%= config.bin %> cluster new vpc --driver ec2 admin_cidr=203.0.113.0/24 ssh_jump=ubuntu@203.0.113.5 ssh_address=private',
  ]
  static usage = '<%= command.id %> NAME --driver DRIVER [KEY=VALUE...]'
  static strict = false
  static args = {
    name: Args.string({description: 'cluster name (lowercase letters, digits, - and _)', required: true}),
  }
  static flags = {
    driver: Flags.string({char: 'd', description: 'where nodes come from', options: [...DRIVERS], required: true}),
  }

  async run(): Promise<void> {
    const {args, argv, flags} = await this.parse(ClusterNew)
    const name = args.name
    checkClusterName(name)
    const assignments = (argv as string[]).slice(1)
    const beltDir = ensureBeltDir()
    const dir = join(beltDir, name)
    const path = join(dir, 'config.yml')
    if (existsSync(path)) throw new UsageError(`cluster '${name}' already exists (${path}); change it with: belt cluster update key=value`)
    const cfg = parseConfigText(readFileSync(templatePath(flags.driver), 'utf8'), templatePath(flags.driver))
    const diff = applyAssignments(cfg.doc, cfg.driver, assignments, 'cluster new')
    setClusterId(cfg.doc, newClusterId())
    const secrets = writeConfigFile(path, cfg.doc)
    info(`created cluster '${name}' (driver ${flags.driver}) in ${path}`)
    for (const l of diff.lines) info(l)
    warnSecretInConfig(path, secrets)
    if (!readActiveCluster(beltDir)) {
      writeActiveCluster(beltDir, name)
      info(`'${name}' is now the active cluster`)
    } else {
      info(`make it the active cluster with: belt use ${name}`)
    }
  }
}
