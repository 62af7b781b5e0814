// An HTTP proxy in front of a fake cloud API: adds a fixed latency to every request (as a real API across the
// internet would) and records when each request arrived, so the bench can count calls and the busiest minute.
import {createServer, request, IncomingMessage, Server, ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface ProxiedRequest {
  at: number
  method: string
  path: string
  /** EC2 Query API: the form's Action. */
  action?: string
  status?: number
}

export class LatencyProxy {
  readonly requests: ProxiedRequest[] = []
  private server: Server | null = null

  constructor(private readonly target: string, private readonly latencyMs: number) {}

  async start(): Promise<string> {
    const t = new URL(this.target)
    this.server = createServer((req, res) => void this.forward(t, req, res))
    this.server.keepAliveTimeout = 5000
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return this.url
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server!.close(() => resolve()))
    this.server = null
  }

  private async forward(t: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec: ProxiedRequest = {at: Date.now(), method: req.method ?? 'GET', path: req.url ?? '/'}
    this.requests.push(rec)
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      rec.action = new URLSearchParams(body.toString('utf8')).get('Action') ?? undefined
    }
    await new Promise((r) => setTimeout(r, this.latencyMs))
    const headers = {...req.headers, host: t.host}
    const up = request({host: t.hostname, port: t.port, method: req.method, path: req.url, headers}, (ur) => {
      rec.status = ur.statusCode
      res.writeHead(ur.statusCode ?? 502, ur.headers)
      ur.pipe(res)
    })
    up.on('error', () => {
      rec.status = 502
      if (!res.headersSent) res.writeHead(502, {'content-type': 'application/json'})
      res.end(JSON.stringify({id: 'bad_gateway', message: 'bench proxy: upstream failed'}))
    })
    up.end(body)
  }

}
