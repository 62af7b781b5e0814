import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {parseCopyArgs} from '../core/copy-args.js'
import {parseDuration} from '../core/duration.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {checkCopyWork, copyOnFleet, localItems, type CopyWork} from '../ssh/copy.js'
import {concurrencyFor, endpointsFrom} from '../ssh/targets.js'
import {fleetHooks, renderFleet} from '../ui/fleet.js'

export default class Scp extends BeltCommand {
  static description = `Copy files to or from nodes over SFTP, in parallel; or load a docker image archive on nodes

belt scp FILE... 'PATTERN':DEST sends the files to every node: into DEST when it is a folder there, else (one file) as DEST. DEST is relative to the login's home ('w1:' is the home folder); files are written as the login user with their local mode.
belt scp NODE:SRC DEST fetches SRC: to DEST, or into DEST when it is a folder. When the pattern names several nodes, each node's copy goes to DEST/<name>/<basename of SRC> (DEST must be a folder or not exist).
-r copies folders. The remote side splits at the first : outside brackets ('w[1:4]':/tmp).
--load ARCHIVE streams a docker save archive into docker load on every node over SSH (no temporary file on the nodes; through sudo -n when ssh_user is not root): the way to get an image onto every node without a registry. --load - reads the archive from stdin once and sends it to every node at the same time (the slowest node sets the pace; all nodes must fit in --concurrency).
Each node reads the files from this disk on its own, a few large SFTP writes at a time: memory stays flat however big the file or the fleet. Progress (nodes and bytes) on stderr; a summary on stdout; exit 1 if any node failed.`

  static examples = [
    "<%= config.bin %> scp sysctl.conf 'w[1:2000]':/etc/sysctl.d/90-belt.conf",
    "<%= config.bin %> scp a.txt b.txt 'w[1:4]':/tmp",
    "<%= config.bin %> scp -r ./conf 'mg0,w[1:3]':/opt",
    '<%= config.bin %> scp mg0:/var/log/syslog ./syslog',
    "<%= config.bin %> scp 'w[1:4]':/etc/hostname ./hostnames    # ./hostnames/w1/hostname …",
    "docker save -o app.tar app:1.2 && <%= config.bin %> scp --load app.tar 'w[1:500]'",
    "<%= config.bin %> scp --load app.tar 'w[1:4]' --json",
    "docker save app:1.2 | <%= config.bin %> scp --load - 'w[1:50]'",
  ]

  static strict = false
  static args = {words: Args.string({description: "FILE... 'PATTERN':DEST, or NODE:SRC DEST, or with --load the nodes", required: true})}
  static flags = {
    recursive: Flags.boolean({char: 'r', description: 'copy folders and everything in them'}),
    load: Flags.string({description: 'a docker save archive to stream into docker load on each node (instead of FILE... PATTERN:DEST)'}),
    json: Flags.boolean({description: 'print JSON: {"ok", "already", "failed", "results": [{"name", "exit_code", "stdout", "stderr", "bytes"}]}'}),
    concurrency: Flags.integer({description: "nodes at once (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'per-node time limit, connection and transfer (default: none)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Scp)
    const request = parseCopyArgs(argv as string[], {load: flags.load})
    const cluster = this.resolveCluster(flags)
    const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout')
    const concurrency = concurrencyFor(cluster, flags.concurrency)
    let work: CopyWork
    let patterns: string[]
    if (request.kind === 'load') {
      if (flags.recursive) throw new UsageError('--load takes no -r: it streams one archive file')
      work = request.archive === '-' ? {kind: 'load-stdin', stdin: process.stdin} : {kind: 'load', archive: request.archive}
      patterns = request.targets
    } else if (request.kind === 'upload') {
      work = {kind: 'upload', items: localItems(request.sources, flags.recursive), dest: request.dest}
      patterns = [request.target]
    } else {
      work = {kind: 'download', src: request.src, dest: request.dest, recursive: flags.recursive}
      patterns = [request.target]
    }
    const endpoints = await endpointsFrom(cluster, patterns)
    checkCopyWork(work, endpoints.length)
    if (work.kind === 'load-stdin' && endpoints.length > concurrency) {
      throw new UsageError(`--load - reads stdin once for all nodes at the same time: ${endpoints.length} nodes need --concurrency ${endpoints.length} (or save the archive to a file)`)
    }
    const hooks = fleetHooks({plain: flags.json || undefined})
    const result = await this.withSsh(cluster, (ssh) => copyOnFleet(ssh, endpoints, work, {concurrency, timeoutMs}, hooks))
    renderFleet(result, {json: flags.json, tail: {results: result.hosts}})
    if (result.interrupted) throw new Interrupted(`interrupted: ${result.notStarted.length} node(s) not started`)
    if (result.failed.length) throw new PartialFailure(flags.json ? '' : `${result.failed.length} of ${result.total} nodes failed`)
  }
}
