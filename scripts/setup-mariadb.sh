#!/usr/bin/env bash
# Makes sure the MariaDB server binaries the local runtime and the tests run are present,
# rclone + zstd for the backup Jobs (docs/backups.md), and shellcheck for the container scripts
# (scripts/shellcheck.sh), and mariadb-backup/mbstream for the agent's physical copies
# (src/agent/). WordPress for its tests: scripts/setup-wordpress.sh.
# On Debian as root: installs them with apt-get when missing. Elsewhere: says what to install.
set -euo pipefail

need=()
for bin in mariadbd mariadb-install-db mariadb mariadb-dump mariadb-backup mbstream rclone zstd shellcheck; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$bin")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "metamysql: missing (${need[*]}); installing them with apt-get" >&2
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "metamysql: cannot install automatically here. Install MariaDB server 10.11+ (packages" >&2
  echo "  mariadb-server mariadb-client mariadb-backup on Debian/Ubuntu), rclone, zstd and" >&2
  echo "  shellcheck, then retry." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client mariadb-backup rclone zstd shellcheck >/dev/null
# The package starts a system server on 127.0.0.1:3306; our instances use their own loopback
# addresses, but stop it so nothing answers in their place.
if command -v service >/dev/null 2>&1; then
  service mariadb stop >/dev/null 2>&1 || true
fi
echo "metamysql: installed $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version)" >&2
