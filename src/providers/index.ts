// Driver name → Provider. Drivers are imported lazily so commands that touch no cloud start fast.
import type {Cluster} from '../core/config/cluster.js'
import type {Provider} from './provider.js'

export async function providerFor(cluster: Cluster): Promise<Provider> {
  switch (cluster.driver) {
    case 'digitalocean': {
      const {DigitalOceanProvider} = await import('./digitalocean/index.js')
      return new DigitalOceanProvider(cluster) as unknown as Provider
    }
    case 'ec2': {
      const {Ec2Provider} = await import('./ec2/index.js')
      return new Ec2Provider(cluster) as unknown as Provider
    }
    case 'generic': {
      const {GenericProvider} = await import('./generic/index.js')
      return new GenericProvider(cluster) as unknown as Provider
    }
    case 'local': {
      const {LocalProvider} = await import('./local/index.js')
      return new LocalProvider(cluster) as unknown as Provider
    }
  }
}
