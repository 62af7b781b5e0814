// The files of the `belt monitor` stack, rendered from the images only (pure, no I/O): the stack file for
// `docker stack deploy`, Prometheus's configuration, Grafana's provisioning (the Prometheus data source and a
// dashboard provider) and the swarm dashboard. Same images in, same bytes out, so a versioned stack.yml only changes
// when something that matters changed.
import {createHash} from 'node:crypto'
import {stringify} from 'yaml'

export const STACK_NAME = 'belt-monitor'
export const GRAFANA_PORT = 3000
export const PROMETHEUS_PORT = 9090
export const NODE_EXPORTER_PORT = 9100
/** Grafana's data source uid: the dashboard's panels name it, so they never depend on a data source's display name. */
export const DATASOURCE_UID = 'belt-prometheus'
export const DASHBOARD_UID = 'belt-swarm'
export const PASSWORD_FILE = 'grafana-admin-password'
export const GRAFANA_USER = 'admin'

export interface MonitorImages {
  prometheus: string
  node_exporter: string
  grafana: string
}

export interface StackFile {
  /** File name in `.belt/<cluster>/monitor/` and in the folder the manager deploys from. */
  name: string
  content: string
}

/** Swarm configs and secrets cannot change in place: a name carrying its content's hash makes a changed file a new one. */
function contentName(prefix: string, content: string): string {
  return `${STACK_NAME}-${prefix}-${createHash('sha256').update(content).digest('hex').slice(0, 10)}`
}

// ------------------------------------------------------------------------------------------------ Prometheus --

/**
 * Nodes come from the swarm itself (dockerswarm_sd_configs, role nodes, read from the manager's docker socket), so a
 * node that joins later is scraped within the refresh interval, and a node that left stops being a target, without
 * running belt again. Each node's exporter listens on the node's own address (host network), which is what the
 * swarm reports for the node.
 */
export function prometheusConfig(): string {
  return stringify({
    global: {scrape_interval: '15s', evaluation_interval: '15s'},
    scrape_configs: [
      {job_name: 'prometheus', static_configs: [{targets: [`localhost:${PROMETHEUS_PORT}`]}]},
      {
        job_name: 'node',
        dockerswarm_sd_configs: [{host: 'unix:///var/run/docker.sock', role: 'nodes', refresh_interval: '30s'}],
        relabel_configs: [
          {
            source_labels: ['__meta_dockerswarm_node_address'],
            regex: '(.+)',
            target_label: '__address__',
            replacement: `$1:${NODE_EXPORTER_PORT}`,
          },
          // Docker sometimes reports a manager's address as 0.0.0.0: its raft address names the host then.
          {
            source_labels: ['__meta_dockerswarm_node_address', '__meta_dockerswarm_node_manager_address'],
            regex: '0\\.0\\.0\\.0;(.+):\\d+',
            target_label: '__address__',
            replacement: `$1:${NODE_EXPORTER_PORT}`,
          },
          {source_labels: ['__meta_dockerswarm_node_hostname'], target_label: 'node'},
          {source_labels: ['__meta_dockerswarm_node_hostname'], target_label: 'instance'},
          {source_labels: ['__meta_dockerswarm_node_role'], target_label: 'role'},
        ],
      },
    ],
  })
}

// --------------------------------------------------------------------------------------------------- Grafana --

export function grafanaDatasource(): string {
  return stringify({
    apiVersion: 1,
    datasources: [{
      name: 'Prometheus',
      uid: DATASOURCE_UID,
      type: 'prometheus',
      access: 'proxy',
      // The stack's overlay network resolves the service name to Prometheus's task (dnsrr: no virtual IP needed).
      url: `http://prometheus:${PROMETHEUS_PORT}`,
      isDefault: true,
      editable: false,
    }],
  })
}

export function grafanaDashboardProvider(): string {
  return stringify({
    apiVersion: 1,
    providers: [{
      name: 'belt',
      folder: 'belt',
      type: 'file',
      disableDeletion: true,
      allowUiUpdates: false,
      options: {path: '/etc/grafana/dashboards'},
    }],
  })
}

const DS = {type: 'prometheus', uid: DATASOURCE_UID}
const NODE = 'job="node",node=~"$node"'
// Interfaces of containers and of docker itself would count a node's traffic twice.
const REAL_DEVICES = 'device!~"lo|veth.*|docker.*|br-.*|vxlan.*|vx-.*"'

interface Panel {
  title: string
  type: 'stat' | 'timeseries'
  expr: string
  legend?: string
  unit?: string
  w: number
  h: number
  x: number
  y: number
}

function panel(id: number, p: Panel): Record<string, unknown> {
  return {
    id,
    title: p.title,
    type: p.type,
    datasource: DS,
    gridPos: {h: p.h, w: p.w, x: p.x, y: p.y},
    targets: [{refId: 'A', datasource: DS, expr: p.expr, legendFormat: p.legend ?? '', ...(p.type === 'stat' ? {instant: true} : {})}],
    fieldConfig: {
      defaults: {unit: p.unit ?? 'short', ...(p.type === 'timeseries' ? {custom: {fillOpacity: 0, showPoints: 'never'}} : {})},
      overrides: [],
    },
    options: p.type === 'stat'
      ? {reduceOptions: {calcs: ['lastNotNull'], fields: '', values: false}, colorMode: 'value', graphMode: 'none', textMode: 'auto'}
      : {
        legend: {displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'], showLegend: true},
        tooltip: {mode: 'multi', sort: 'desc'},
      },
  }
}

/** Nodes up, CPU, memory, load and network per node; `node` picks nodes (all by default, for a big swarm a few). */
export function swarmDashboard(): Record<string, unknown> {
  const panels: Panel[] = [
    {title: 'Nodes up', type: 'stat', expr: 'sum(up{job="node"})', w: 6, h: 4, x: 0, y: 0},
    {title: 'Nodes down (exporter not answering)', type: 'stat', expr: 'count(up{job="node"} == 0) or vector(0)', w: 6, h: 4, x: 6, y: 0},
    {title: 'Managers up', type: 'stat', expr: 'sum(up{job="node",role="manager"})', w: 6, h: 4, x: 12, y: 0},
    {title: 'Workers up', type: 'stat', expr: 'sum(up{job="node",role="worker"})', w: 6, h: 4, x: 18, y: 0},
    {title: 'CPU busy', type: 'timeseries', unit: 'percent', legend: '{{node}}', w: 12, h: 8, x: 0, y: 4,
      expr: `100 * (1 - avg by (node) (rate(node_cpu_seconds_total{${NODE},mode="idle"}[$__rate_interval])))`},
    {title: 'Memory used', type: 'timeseries', unit: 'percent', legend: '{{node}}', w: 12, h: 8, x: 12, y: 4,
      expr: `100 * (1 - node_memory_MemAvailable_bytes{${NODE}} / node_memory_MemTotal_bytes{${NODE}})`},
    {title: 'Load (1 min)', type: 'timeseries', legend: '{{node}}', w: 12, h: 8, x: 0, y: 12, expr: `node_load1{${NODE}}`},
    {title: 'Memory available', type: 'timeseries', unit: 'bytes', legend: '{{node}}', w: 12, h: 8, x: 12, y: 12,
      expr: `node_memory_MemAvailable_bytes{${NODE}}`},
    {title: 'Network received', type: 'timeseries', unit: 'Bps', legend: '{{node}}', w: 12, h: 8, x: 0, y: 20,
      expr: `sum by (node) (rate(node_network_receive_bytes_total{${NODE},${REAL_DEVICES}}[$__rate_interval]))`},
    {title: 'Network sent', type: 'timeseries', unit: 'Bps', legend: '{{node}}', w: 12, h: 8, x: 12, y: 20,
      expr: `sum by (node) (rate(node_network_transmit_bytes_total{${NODE},${REAL_DEVICES}}[$__rate_interval]))`},
  ]
  const nodes = 'label_values(up{job="node"}, node)'
  return {
    uid: DASHBOARD_UID,
    title: 'Swarm nodes (belt)',
    tags: ['belt', 'swarm'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '30s',
    time: {from: 'now-1h', to: 'now'},
    templating: {
      list: [{
        name: 'node',
        label: 'node',
        type: 'query',
        datasource: DS,
        definition: nodes,
        query: {query: nodes, refId: 'nodes'},
        refresh: 2,
        multi: true,
        includeAll: true,
        allValue: '.*',
        current: {text: 'All', value: '$__all'},
        sort: 3,
      }],
    },
    panels: panels.map((p, i) => panel(i + 1, p)),
  }
}

// ------------------------------------------------------------------------------------------------ stack file --

export interface RenderedStack {
  /** Every file the stack file names, stack.yml last; the password file is not among them (it is a secret). */
  files: StackFile[]
  /** The names the swarm knows the stack's configs by (old ones are removed after a deploy). */
  configNames: string[]
}

/**
 * The stack: node-exporter on every node (global) on the host network, so it sees the node's own interfaces and
 * answers on the node's address; Prometheus and Grafana on a manager, on the stack's overlay network with DNS
 * round-robin endpoints and ports published in host mode (neither needs the routing mesh, which needs IPVS).
 */
export function renderStack(clusterName: string, images: MonitorImages): RenderedStack {
  const files: StackFile[] = [
    {name: 'prometheus.yml', content: prometheusConfig()},
    {name: 'grafana-datasource.yml', content: grafanaDatasource()},
    {name: 'grafana-dashboards.yml', content: grafanaDashboardProvider()},
    {name: 'swarm-dashboard.json', content: JSON.stringify(swarmDashboard(), null, 2) + '\n'},
  ]
  const config = (key: string, file: string) =>
    [key, {name: contentName(key, files.find((f) => f.name === file)!.content), file: `./${file}`}] as const
  const configs = Object.fromEntries([
    config('prometheus', 'prometheus.yml'),
    config('grafana-datasource', 'grafana-datasource.yml'),
    config('grafana-dashboards', 'grafana-dashboards.yml'),
    config('swarm-dashboard', 'swarm-dashboard.json'),
  ])
  const stack = {
    version: '3.8',
    services: {
      'node-exporter': {
        image: images.node_exporter,
        networks: ['hostnet'],
        deploy: {mode: 'global'},
      },
      prometheus: {
        image: images.prometheus,
        // dockerswarm_sd_configs reads the manager's docker socket, which only root may open.
        user: '0:0',
        command: [
          '--config.file=/etc/prometheus/prometheus.yml',
          '--storage.tsdb.path=/prometheus',
          '--storage.tsdb.retention.time=15d',
        ],
        volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro', 'prometheus-data:/prometheus'],
        configs: [{source: 'prometheus', target: '/etc/prometheus/prometheus.yml'}],
        ports: [{target: PROMETHEUS_PORT, published: PROMETHEUS_PORT, protocol: 'tcp', mode: 'host'}],
        networks: ['monitor'],
        deploy: {replicas: 1, endpoint_mode: 'dnsrr', placement: {constraints: ['node.role == manager']}},
      },
      grafana: {
        image: images.grafana,
        environment: {
          GF_SECURITY_ADMIN_USER: GRAFANA_USER,
          GF_SECURITY_ADMIN_PASSWORD__FILE: '/run/secrets/grafana_admin_password',
          GF_USERS_ALLOW_SIGN_UP: 'false',
          GF_AUTH_ANONYMOUS_ENABLED: 'false',
          GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/etc/grafana/dashboards/swarm.json',
        },
        configs: [
          {source: 'grafana-datasource', target: '/etc/grafana/provisioning/datasources/belt.yml'},
          {source: 'grafana-dashboards', target: '/etc/grafana/provisioning/dashboards/belt.yml'},
          {source: 'swarm-dashboard', target: '/etc/grafana/dashboards/swarm.json'},
        ],
        secrets: [{source: 'grafana-admin-password', target: 'grafana_admin_password'}],
        ports: [{target: GRAFANA_PORT, published: GRAFANA_PORT, protocol: 'tcp', mode: 'host'}],
        networks: ['monitor'],
        deploy: {replicas: 1, endpoint_mode: 'dnsrr', placement: {constraints: ['node.role == manager']}},
      },
    },
    networks: {
      monitor: {driver: 'overlay'},
      hostnet: {external: true, name: 'host'},
    },
    volumes: {'prometheus-data': {}},
    configs,
    // Grafana keeps no state of its own (no volume): everything it shows is provisioned, and its admin password is
    // always the one in this secret. The name is fixed: a secret of the same name and other content is refused.
    secrets: {'grafana-admin-password': {name: `${STACK_NAME}-grafana-admin-password`, file: `./${PASSWORD_FILE}`}},
  }
  const header = [
    `# Written by \`belt monitor\` for cluster ${clusterName}; it deploys this file with`,
    `#   docker stack deploy --compose-file stack.yml --resolve-image never --prune ${STACK_NAME}`,
    '# from a manager. Rewritten on every run: change images with monitor_images in config.yml.',
    `# ${PASSWORD_FILE} is never versioned (.belt/.gitignore); the other files here are.`,
    '',
  ].join('\n')
  files.push({name: 'stack.yml', content: header + stringify(stack, {aliasDuplicateObjects: false})})
  return {files, configNames: Object.values(configs).map((c) => c.name)}
}
