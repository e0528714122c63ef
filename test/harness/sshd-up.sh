#!/usr/bin/env bash
# (Re)start only the harness' private sshds (one per engine, for ssh://
# endpoints) on a harness that is already up, and add their "ssh" section to
# env.json. The engines are not touched. up.sh does the same as part of a
# full start.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "sshd-up.sh must run as root (sshd)"
check_state_dir_sane
ENV_JSON="$DC_S/env.json"
[ -f "$ENV_JSON" ] || die "no harness at $DC_S (run test/harness/up.sh)"
harness_lock
start_sshd_all
ssh_patch_env_json "$ENV_JSON"
printf '%s\n' "$ENV_JSON"
