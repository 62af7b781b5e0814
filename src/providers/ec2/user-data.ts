// The user data of an EC2 node: user_data when set ('' for none), else, when engine_install is on, a first-boot
// script that installs Docker Engine, so `belt provision` mostly finds it there. belt provision still checks and
// finishes the set-up over SSH.
import type {Ec2Settings} from '../../core/config/schema.js'
import {UsageError} from '../../core/errors.js'

const USER_DATA_MAX = 16 * 1024

/** The user data to launch with, or undefined for none; throws when user_data is over EC2's limit. */
export function userDataFor(settings: Ec2Settings, sshUser: string): string | undefined {
  const configured = settings.user_data
  if (configured !== undefined) {
    if (Buffer.byteLength(configured) > USER_DATA_MAX) throw new UsageError(`user_data is larger than EC2's 16 KB limit`)
    return configured === '' ? undefined : configured
  }
  if (!settings.engine_install) return undefined
  return defaultUserData(settings.engine_install_url, sshUser)
}

export function defaultUserData(installUrl: string, sshUser: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  return [
    '#!/bin/sh',
    '# belt: install Docker Engine at first boot (engine_install: true). Set user_data to replace this script.',
    'set -e',
    'if ! command -v docker >/dev/null 2>&1; then',
    `  curl -fsSL ${q(installUrl)} -o /tmp/get-docker.sh`,
    '  sh /tmp/get-docker.sh',
    'fi',
    `usermod -aG docker ${q(sshUser)} 2>/dev/null || true`,
    '',
  ].join('\n')
}
