// Finding the image to launch when no `ami` is set: the newest Ubuntu LTS server image Canonical publishes in the
// region for the instance type's architecture.
import {PartialFailure} from '../../core/errors.js'
import {call, type Ec2Context, sdk} from './client.js'

export const CANONICAL_OWNER = '099720109477'
/** Ubuntu LTS releases belt picks from when no `ami` is set. */
const UBUNTU_LTS = ['jammy-22.04', 'noble-24.04']

export async function latestUbuntu(ctx: Ec2Context, arch: 'x86_64' | 'arm64', signal?: AbortSignal): Promise<{id: string; name: string}> {
  const a = arch === 'arm64' ? 'arm64' : 'amd64'
  const out = await call('DescribeImages', (o) => ctx.client.send(new sdk.DescribeImagesCommand({
    Owners: [CANONICAL_OWNER],
    Filters: [
      {Name: 'name', Values: UBUNTU_LTS.map((r) => `ubuntu/images/hvm-ssd*/ubuntu-${r}-${a}-server-*`)},
      {Name: 'state', Values: ['available']},
      {Name: 'architecture', Values: [arch]},
    ],
  }), o), signal)
  const images = (out.Images ?? []).filter((i) => i.ImageId && i.OwnerId === CANONICAL_OWNER)
  images.sort((x, y) => String(y.CreationDate ?? '').localeCompare(String(x.CreationDate ?? '')))
  if (!images[0]) throw new PartialFailure(`no Ubuntu LTS image (${UBUNTU_LTS.join(', ')}, ${a}) from Canonical in ${ctx.region}; set ami`)
  return {id: images[0].ImageId!, name: (images[0].Name ?? images[0].ImageId!).split('/').pop()!}
}
