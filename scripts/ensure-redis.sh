#!/bin/sh
# Makes sure a Redis server (the distributed mode's shared frontier, crawler/distributed/) and
# nginx (bench/: the big demo site served fast) exist, the way ensure-browser.sh brings Chromium:
#   as root with apt-get: Debian's redis-server and nginx-light; otherwise a clear message.
# Neither is needed by `make demo` (embedded mode); tests that need Redis skip without it.
need=""
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "netsword: installing Debian's$need (apt-get) ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null \
    && exit 0
fi
cat >&2 <<MSG
netsword: not installed:$need. The distributed mode (netsword worker) needs a Redis server
(sudo apt-get install redis-server, or point NETSWORD_REDIS_URL at one); bench/ uses nginx-light
to serve the big demo site. Tests that need them are skipped.
MSG
exit 0
