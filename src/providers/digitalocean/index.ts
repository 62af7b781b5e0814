// Placeholder until the digitalocean driver lands.
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'

export class DigitalOceanProvider {
  constructor(readonly cluster: Cluster) {
    throw new UsageError('the digitalocean driver is not available yet')
  }
}
