#!/usr/bin/env bash
# Makes sure the MariaDB server binaries the local runtime and the tests run are present,
# rclone + zstd for the backup Jobs (docs/backups.md), and shellcheck for the container scripts
# (scripts/shellcheck.sh), and WordPress with the PHP command line and its MySQL driver for the
# WordPress tests (test/helpers/wordpress.ts).
# On Debian as root: installs them with apt-get when missing. Elsewhere: says what to install.
set -euo pipefail

need=()
for bin in mariadbd mariadb-install-db mariadb mariadb-dump rclone zstd shellcheck; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$bin")
done
# WordPress (Debian's package, under /usr/share/wordpress), its default theme, php-cli for the
# built-in web server and mysqli for WordPress's database connection.
[ -f /usr/share/wordpress/wp-load.php ] || need+=(wordpress)
[ -d /usr/share/wordpress/wp-content/themes/twentytwentythree ] || need+=(wordpress-theme-twentytwentythree)
command -v php >/dev/null 2>&1 || need+=(php)
if command -v php >/dev/null 2>&1 && ! php -m 2>/dev/null | grep -qx mysqli; then need+=(php-mysqli); fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "metamysql: missing (${need[*]}); installing them with apt-get" >&2
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "metamysql: cannot install automatically here. Install MariaDB server 10.11+ (packages" >&2
  echo "  mariadb-server mariadb-client mariadb-backup on Debian/Ubuntu), rclone, zstd and" >&2
  echo "  shellcheck, and wordpress wordpress-theme-twentytwentythree php-cli php-mysql, then" >&2
  echo "  retry." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client mariadb-backup rclone zstd shellcheck \
  wordpress wordpress-theme-twentytwentythree php-cli php-mysql >/dev/null
# The package starts a system server on 127.0.0.1:3306; our instances use their own loopback
# addresses, but stop it so nothing answers in their place.
# The wordpress package depends on a web server (apache2 | httpd) and apt brings in Apache, which
# may start on port 80; the tests serve WordPress with PHP's built-in server instead.
if command -v service >/dev/null 2>&1; then
  service mariadb stop >/dev/null 2>&1 || true
  service apache2 stop >/dev/null 2>&1 || true
fi
echo "metamysql: installed $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version)" >&2
