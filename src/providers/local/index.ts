// Placeholder until the local driver lands.
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'

export class LocalProvider {
  constructor(readonly cluster: Cluster) {
    throw new UsageError('the local driver is not available yet')
  }
}
