// Driver name → Provider. Drivers are imported lazily so commands that touch no cloud start fast.
import type {Cluster} from '../core/config/cluster.js'
import type {Provider} from './provider.js'

/** What a provider may tell the user while it works; commands wire it to src/ui (providers never print). */
export interface ProviderHooks {
  /** One line for stderr: a rate-limit wait longer than 5 s, a retry, the API origin a token is sent to. */
  onNotice?: (line: string) => void
}

let defaultHooks: ProviderHooks = {}

/** Set once by the command layer (base-command.ts) so every provider a command makes reports through the UI. */
export function setProviderHooks(hooks: ProviderHooks): void {
  defaultHooks = hooks
}

export async function providerFor(cluster: Cluster, hooks: ProviderHooks = defaultHooks): Promise<Provider> {
  // A Cluster's settings are typed by its driver; the switch checks `cluster.driver`, hence the casts.
  switch (cluster.driver) {
    case 'digitalocean': {
      const {DigitalOceanProvider} = await import('./digitalocean/index.js')
      return new DigitalOceanProvider(cluster as Cluster<'digitalocean'>, hooks)
    }
    case 'ec2': {
      const {Ec2Provider} = await import('./ec2/index.js')
      return new Ec2Provider(cluster as Cluster<'ec2'>)
    }
    case 'generic': {
      const {GenericProvider} = await import('./generic/index.js')
      return new GenericProvider(cluster as Cluster<'generic'>)
    }
    case 'local': {
      const {LocalProvider} = await import('./local/index.js')
      return new LocalProvider(cluster as Cluster<'local'>)
    }
  }
}
