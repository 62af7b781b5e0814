// Placeholder until the generic driver lands.
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'

export class GenericProvider {
  constructor(readonly cluster: Cluster) {
    throw new UsageError('the generic driver is not available yet')
  }
}
