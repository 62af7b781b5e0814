// Finding the network nodes launch into: subnet_id when set (it must exist), else the region's default VPC. The
// security group belongs to that VPC. belt never creates or deletes a VPC or subnet.
import {UsageError} from '../../core/errors.js'
import {call, type Ec2Context, errorCode, sdk} from './client.js'

export interface Network {
  subnetId: string | null
  vpcId: string | null
  /** A line worth telling before launching (a subnet without public addresses), or null. */
  note: string | null
}

/** `zone` (belt up's swarm zones) overrides subnet_id. */
export async function findNetwork(ctx: Ec2Context, zone?: string): Promise<Network> {
  const subnetId = zone || ctx.cluster.settings.subnet_id || null
  if (subnetId) {
    const missing = () => new UsageError(`${zone ? 'zone' : 'subnet_id'} '${subnetId}' does not exist in ${ctx.region}`)
    let out
    try {
      out = await call('DescribeSubnets', (o) => ctx.client.send(new sdk.DescribeSubnetsCommand({SubnetIds: [subnetId]}), o))
    } catch (err) {
      if (errorCode(err) === 'InvalidSubnetID.NotFound') throw missing()
      throw err
    }
    const s = out.Subnets?.[0]
    if (!s) throw missing()
    const note = s.MapPublicIpOnLaunch
      ? null
      : `subnet ${subnetId} does not assign public IPv4 addresses: nodes are reached on their private addresses`
    return {subnetId, vpcId: s.VpcId ?? null, note}
  }
  const command = new sdk.DescribeVpcsCommand({Filters: [{Name: 'is-default', Values: ['true']}]})
  const out = await call('DescribeVpcs', (o) => ctx.client.send(command, o))
  const vpc = out.Vpcs?.[0]
  if (!vpc) throw new UsageError(`${ctx.region} has no default VPC: set subnet_id`)
  return {subnetId: null, vpcId: vpc.VpcId ?? null, note: null}
}
