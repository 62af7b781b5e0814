// The default user data of an EC2 node when engine_install is on: a first-boot script that installs Docker Engine,
// so `belt provision` mostly finds it there. belt provision still checks and finishes the set-up over SSH.

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
