# A throw-away PostgreSQL for the tests: source it, then run them.
#
#     source scripts/postgres.sh      # installs Debian's postgresql if missing (as root)
#     cargo test --workspace          # the PostgreSQL tests now run instead of skipping
#
# It initialises a cluster in a temporary directory (trust authentication, loopback only,
# fsync off), starts it on a free port, and exports:
#   DATABASE_URL       postgres://postgres@127.0.0.1:PORT/postgres
#   HEALTH_PG_BIN      the directory of initdb and pg_ctl (tests start private clusters
#                      from it for scenarios that stop the server)
#   HEALTH_PG_USER     as root only: `postgres`, the user those programs must run as
# The cluster stops, and its directory goes, when the shell that sourced this exits (an
# EXIT trap), or on `health_postgres_stop`. As root, the server runs as the `postgres`
# user: initdb refuses root.
#
# Bash only (it is sourced by .ci/run). Exit status non-zero, with a message, when no
# server can be had.

health_postgres_fail() {
  echo "scripts/postgres.sh: $*" >&2
  return 1
}

health_postgres_bin() {
  local bin
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return 0
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then
    echo "$bin"
    return 0
  fi
  return 1
}

# As root: the server runs as `postgres`; otherwise as the caller.
health_postgres_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

health_postgres_start() {
  local bin port dir
  if ! bin=$(health_postgres_bin); then
    if [ "$(id -u)" != 0 ]; then
      health_postgres_fail "no PostgreSQL found; install Debian's postgresql (as root: apt-get install postgresql)"
      return 1
    fi
    echo "scripts/postgres.sh: installing Debian's postgresql" >&2
    apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2 ||
      { health_postgres_fail "apt-get install postgresql failed"; return 1; }
    bin=$(health_postgres_bin) || { health_postgres_fail "postgresql installed, but no initdb found"; return 1; }
  fi
  # A free port: the kernel's pick for a socket bound to port 0.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) ||
    port=$((54000 + RANDOM % 1000))
  dir=$(mktemp -d "${TMPDIR:-/tmp}/health-pg.XXXXXX")
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir"
  fi
  health_postgres_as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; health_postgres_fail "initdb failed"; return 1; }
  health_postgres_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null ||
    { cat "$dir/log" >&2; health_postgres_fail "the server did not start"; return 1; }
  HEALTH_PG_DIR=$dir
  export HEALTH_PG_BIN=$bin
  if [ "$(id -u)" = 0 ]; then
    export HEALTH_PG_USER=postgres
  else
    unset HEALTH_PG_USER
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  trap health_postgres_stop EXIT
  echo "scripts/postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir); DATABASE_URL exported" >&2
}

health_postgres_stop() {
  if [ -n "${HEALTH_PG_DIR:-}" ] && [ -d "$HEALTH_PG_DIR/data" ]; then
    health_postgres_as "$HEALTH_PG_BIN/pg_ctl" -D "$HEALTH_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$HEALTH_PG_DIR"
  fi
  HEALTH_PG_DIR=
}

health_postgres_start
