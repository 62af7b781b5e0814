// Placeholder until the ec2 driver lands.
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'

export class Ec2Provider {
  constructor(readonly cluster: Cluster) {
    throw new UsageError('the ec2 driver is not available yet')
  }
}
