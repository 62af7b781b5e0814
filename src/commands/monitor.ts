import {Flags} from '@oclif/core'
import {relative, isAbsolute} from 'node:path'
import {BeltCommand} from '../base-command.js'
import {parseDuration} from '../core/duration.js'
import {
  deployCommand, deployMonitor, GRAFANA_TASK_COMMAND, GRAFANA_USER, monitorPaths, removeCommand, removeMonitor, STACK_NAME, STAGE_COMMAND,
  type MonitorOptions,
} from '../docker/monitor.js'
import {printHostKeyWarnings} from '../ui/fleet.js'
import {info, out, printJson, warn} from '../ui/output.js'

/** A path under the working directory as a relative one (what a user types next), else absolute. */
function shown(path: string): string {
  const r = relative(process.cwd(), path)
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : path
}

export default class Monitor extends BeltCommand {
  static description = `Deploy the monitoring stack on the swarm: node-exporter on every node, Prometheus and Grafana on a manager

belt writes the stack file to .belt/<cluster>/monitor/stack.yml (meant to be versioned, with the Prometheus and \
Grafana files beside it) and runs docker stack deploy on the active node. Prometheus finds the nodes through the swarm \
(dockerswarm_sd_configs), so nodes that join later are scraped without running belt again. Grafana has the Prometheus \
data source and a swarm dashboard (nodes up, CPU, memory, load, network per node); its admin password is generated \
once into a 0600 file whose path is printed. Images: monitor_images in config.yml. Safe to re-run.
The cloud firewall does not open Grafana's port: --forward tunnels it to 127.0.0.1 over SSH until Ctrl-C.`

  static examples = [
    '<%= config.bin %> monitor',
    '<%= config.bin %> monitor --forward',
    '<%= config.bin %> monitor --forward --port 3300',
    '<%= config.bin %> monitor --down',
    '<%= config.bin %> cluster update monitor_images.grafana=grafana/grafana:11.3.0',
  ]

  static flags = {
    forward: Flags.boolean({
      description: 'then forward 127.0.0.1:PORT to Grafana over SSH and print the URL (Ctrl-C stops)',
      exclusive: ['down', 'json'],
    }),
    port: Flags.integer({description: 'local port of --forward', default: 3000, min: 0, max: 65535}),
    down: Flags.boolean({description: 'remove the stack from the swarm (the files in .belt/<cluster>/monitor/ stay)'}),
    json: Flags.boolean({
      description: 'print JSON: {"stack", "manager", "stack_file", "password_file", "images"}; with --down {"stack", "manager", "removed"}',
    }),
    timeout: Flags.string({
      description: 'time limit for the connection, the deploy (and with --forward, Grafana starting) together',
      default: '5m',
    }),
    'print-command': Flags.boolean({description: 'print the remote commands and run nothing'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Monitor)
    if (flags['print-command']) {
      this.printJumpNote(flags)
      out(flags.down ? removeCommand() : [
        '# on the manager: a private folder for the stack files (uploaded over SFTP), then the deploy, which removes it',
        STAGE_COMMAND, '', deployCommand('/tmp/belt-monitor.XXXXXXXX', ['CONFIG-NAMES']),
        ...(flags.forward
          ? ['', '# where Grafana runs (then 127.0.0.1:PORT is forwarded to its port 3000 on that node)', GRAFANA_TASK_COMMAND]
          : []),
      ].join('\n'))
      return
    }
    const cluster = this.resolveCluster(flags)
    const common: MonitorOptions = {
      timeoutMs: parseDuration(flags.timeout, '--timeout'),
      onWarning: warn,
      onHostKeyProblems: (ssh) => printHostKeyWarnings(ssh.hostKeyProblems),
    }

    if (flags.down) {
      const r = await removeMonitor(cluster, common)
      if (flags.json) printJson({stack: r.stack, manager: r.manager, removed: r.outcome === 'removed'})
      else out(`${r.outcome === 'removed' ? `stack ${r.stack} removed from` : `no stack ${r.stack} on`} the swarm (through ${r.manager})`)
      return
    }

    const r = await deployMonitor(cluster, {
      ...common,
      forward: flags.forward ? {
        localPort: flags.port,
        onForwarding: (f) => {
          out(`Grafana: ${f.url} (user ${GRAFANA_USER}, password in ${shown(monitorPaths(cluster).passwordFile)})`)
          info(`forwarding 127.0.0.1:${f.port} to Grafana on ${f.node} over SSH; Ctrl-C stops`)
        },
      } : undefined,
    })
    if (flags.forward) {
      info('forward stopped')
      return
    }
    if (flags.json) {
      printJson({stack: r.stack, manager: r.manager, stack_file: r.paths.stackFile, password_file: r.paths.passwordFile, images: r.images})
      return
    }
    out(`stack ${r.stack} deployed through ${r.manager}: node-exporter (every node), prometheus, grafana (on a manager)`)
    out(`stack file: ${shown(r.paths.stackFile)}`)
    out(`Grafana admin password: ${shown(r.paths.passwordFile)} (user ${GRAFANA_USER}${r.passwordCreated ? ', made now' : ''})`)
    info(`see it: belt monitor --forward, then open http://127.0.0.1:3000/ ` +
      `(docker service ls --filter label=com.docker.stack.namespace=${STACK_NAME} shows the services)`)
  }
}
