#!/usr/bin/env bash
# Makes sure WordPress (Debian's package, under /usr/share/wordpress), its default theme, the PHP
# command line (its built-in web server) and its MySQL driver are present, for the WordPress tests
# (test/helpers/wordpress.ts, test/e2e/wordpress.test.ts). Called by scripts/test.sh; the local
# cluster of the quick start does not need it.
# On Debian as root: installs them with apt-get when missing. Elsewhere: says what to install.
set -euo pipefail

need=()
[ -f /usr/share/wordpress/wp-load.php ] || need+=(wordpress)
[ -d /usr/share/wordpress/wp-content/themes/twentytwentythree ] || need+=(wordpress-theme-twentytwentythree)
command -v php >/dev/null 2>&1 || need+=(php-cli)
if command -v php >/dev/null 2>&1 && ! php -m 2>/dev/null | grep -qx mysqli; then need+=(php-mysql); fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "metamysql: missing (${need[*]}); installing them with apt-get" >&2
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "metamysql: cannot install automatically here. Install wordpress" >&2
  echo "  wordpress-theme-twentytwentythree php-cli php-mysql, then retry." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends wordpress wordpress-theme-twentytwentythree php-cli php-mysql >/dev/null
# The wordpress package depends on a web server (apache2 | httpd) and apt brings in Apache, which
# may start on port 80; the tests serve WordPress with PHP's built-in server instead.
if command -v service >/dev/null 2>&1; then
  service apache2 stop >/dev/null 2>&1 || true
fi
echo "metamysql: installed WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" /usr/share/wordpress/wp-includes/version.php 2>/dev/null)" >&2
