// The swarm security group: security_group when set (used as it is, with a warning when it lacks the swarm rules
// between nodes), else belt-<cluster>-<id8> found or created in the nodes' VPC and completed with the missing swarm
// rules, so a re-run restores them. Which rules are wanted is firewall.ts (pure); the calls are here.
import type {SecurityGroup} from '@aws-sdk/client-ec2'
import {PartialFailure, UsageError} from '../../core/errors.js'
import type {FirewallRule} from '../provider.js'
import {call, type Ec2Context, errorCode, sdk, translate} from './client.js'
import {jumpCidr} from '../../core/config/jump.js'
import {describeRules, missingRules, plannedRules, swarmRules, toIpPermissions} from './firewall.js'
import {findNetwork} from './network.js'
import {ownTags, resourceName} from './tags.js'
import {backoffDelay, sleep} from '../../core/wait.js'

/**
 * belt-<cluster>-<id8>, or the group state.json records: an adopted cluster keeps the group its older nodes are
 * in, since the swarm rules allow traffic only between members of one group.
 */
function groupName(ctx: Ec2Context): string {
  return ctx.records.read().security_group?.name ?? resourceName(ctx.cluster)
}

/** A group by id (sg-...) or by name within the VPC. */
export async function findGroup(ctx: Ec2Context, nameOrId: string, vpcId: string | null): Promise<SecurityGroup | null> {
  const filters = nameOrId.startsWith('sg-')
    ? [{Name: 'group-id', Values: [nameOrId]}]
    : [{Name: 'group-name', Values: [nameOrId]}, ...(vpcId ? [{Name: 'vpc-id', Values: [vpcId]}] : [])]
  const out = await call('DescribeSecurityGroups', (o) => ctx.client.send(new sdk.DescribeSecurityGroupsCommand({Filters: filters}), o))
  return out.SecurityGroups?.[0] ?? null
}

/** The group id nodes launch into: the configured group, else belt's own, created or completed. */
export async function ensureSecurityGroup(ctx: Ec2Context, vpcId: string | null, progress: (m: string) => void): Promise<string> {
  const configured = ctx.cluster.settings.security_group
  if (configured) return checkConfigured(ctx, configured, vpcId, progress)
  const name = groupName(ctx)
  const g = (await findGroup(ctx, name, vpcId)) ?? (await createGroup(ctx, name, vpcId, progress))
  const groupId = g.GroupId!
  const missing = missingRules(swarmRules(ctx.cluster.settings.admin_cidr!, jumpCidr(ctx.cluster.settings.ssh_jump)), g.IpPermissions, groupId)
  if (missing.length) {
    try {
      const command = new sdk.AuthorizeSecurityGroupIngressCommand({GroupId: groupId, IpPermissions: toIpPermissions(missing, groupId)})
      await call('AuthorizeSecurityGroupIngress', (o) => ctx.client.send(command, o))
    } catch (err) {
      if (errorCode(err) !== 'InvalidPermission.Duplicate') throw translate(err, 'AuthorizeSecurityGroupIngress')
    }
    progress(`security group ${name}: added ${missing.length} swarm rule(s)`)
  }
  ctx.records.update((s) => { s.security_group = {id: groupId, name, vpc_id: vpcId} })
  return groupId
}

async function checkConfigured(ctx: Ec2Context, configured: string, vpcId: string | null, progress: (m: string) => void): Promise<string> {
  const g = await findGroup(ctx, configured, vpcId)
  if (!g?.GroupId) throw new UsageError(`security_group '${configured}' does not exist in ${ctx.region}${vpcId ? ` (VPC ${vpcId})` : ''}`)
  const lacking = missingRules(swarmRules('0.0.0.0/0'), g.IpPermissions, g.GroupId).filter((r) => 'self' in r.source)
  if (lacking.length) {
    const what = lacking.map((r) => (r.protocol === '50' ? 'esp' : `${r.from}/${r.protocol}`)).join(', ')
    progress(`warning: security group ${g.GroupId} does not allow ${what} between nodes; swarm joins or overlay networks may hang`)
  }
  return g.GroupId
}

/** Create the group (empty: the caller adds the rules); one created meanwhile by another run is found instead. */
async function createGroup(ctx: Ec2Context, name: string, vpcId: string | null, progress: (m: string) => void): Promise<SecurityGroup> {
  try {
    const out = await call('CreateSecurityGroup', (o) => ctx.client.send(new sdk.CreateSecurityGroupCommand({
      GroupName: name,
      Description: `belt: swarm nodes of cluster ${ctx.cluster.name}`,
      ...(vpcId ? {VpcId: vpcId} : {}),
      TagSpecifications: [{ResourceType: 'security-group', Tags: [...ownTags(ctx.cluster), {Key: 'Name', Value: name}]}],
    }), o))
    progress(`created security group ${name} (${out.GroupId})`)
    return {GroupId: out.GroupId, GroupName: name, IpPermissions: []}
  } catch (err) {
    if (errorCode(err) !== 'InvalidGroup.Duplicate') throw translate(err, 'CreateSecurityGroup')
    const g = await findGroup(ctx, name, vpcId)
    if (!g) throw new PartialFailure(`security group ${name} exists but cannot be described`)
    return g
  }
}

/** The group's rules for `belt firewall`; before belt's own group exists, the rules it would create (null without admin_cidr). */
export async function describeFirewall(ctx: Ec2Context): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null> {
  const configured = ctx.cluster.settings.security_group
  if (configured) {
    const g = await findGroup(ctx, configured, null)
    if (!g) throw new PartialFailure(`security group '${configured}' not found in ${ctx.region}`)
    return {name: g.GroupName ?? configured, id: g.GroupId ?? null, rules: describeRules(g.IpPermissions, g.GroupId!)}
  }
  const name = groupName(ctx)
  const net = await findNetwork(ctx)
  const g = await findGroup(ctx, name, net.vpcId)
  if (g) return {name, id: g.GroupId ?? null, rules: describeRules(g.IpPermissions, g.GroupId!)}
  const admin = ctx.cluster.settings.admin_cidr
  return admin ? {name, id: null, rules: plannedRules(swarmRules(admin, jumpCidr(ctx.cluster.settings.ssh_jump)), name)} : null
}

/** How long `belt down` waits for terminating instances to leave belt's group before it gives up on deleting it. */
const DELETE_WAIT_MS = 5 * 60_000

/**
 * `belt down`: delete belt's own group (never a configured security_group). EC2 refuses while terminating instances
 * are still in it (DependencyViolation): retried with backoff until they are gone or DELETE_WAIT_MS passes.
 */
export async function deleteSecurityGroup(ctx: Ec2Context, signal?: AbortSignal): Promise<string[]> {
  if (ctx.cluster.settings.security_group) return []
  const recorded = ctx.records.read().security_group
  const name = groupName(ctx)
  const g = recorded?.id ? await findGroup(ctx, recorded.id, null).catch(() => null) : await findGroup(ctx, name, null)
  if (!g?.GroupId) return []
  const deadline = Date.now() + DELETE_WAIT_MS
  for (let attempt = 1; ; attempt++) {
    try {
      await call('DeleteSecurityGroup', (o) => ctx.client.send(new sdk.DeleteSecurityGroupCommand({GroupId: g.GroupId}), o))
      break
    } catch (err) {
      const code = errorCode(err)
      if (code === 'InvalidGroup.NotFound') break
      if (code !== 'DependencyViolation' || Date.now() > deadline) throw translate(err, 'DeleteSecurityGroup')
      await sleep(backoffDelay(attempt, {baseMs: 2000, capMs: 15_000}), signal)
    }
  }
  ctx.records.update((s) => { delete s.security_group })
  return [`security group ${g.GroupName ?? name} (${g.GroupId})`]
}
