#!/usr/bin/env bash
# Install Debian's PostgreSQL and Redis servers when this machine lacks them
# (the integration tests start throwaway instances of both), Chromium with its
# driver (the operator dashboard's browser test drives it headless through Selenium), a
# Java runtime for the openapi-generator jar that checks the app's Dart clients, and GNU
# gettext (makemessages/compilemessages build the translation catalogues in locale/).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v msgfmt >/dev/null 2>&1 || need+=(gettext)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${need[*]} (Debian packages)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
