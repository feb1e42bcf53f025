#!/usr/bin/env bash
# Make sure PostgreSQL, RabbitMQ and Redis (the gateway's rate-limit counters) answer: use the
# configured ones, else start the local servers, else install them with apt and start them.
# Enables the RabbitMQ management console.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
AMQP_HOST=${AMQP_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}
MGMT_PORT=${RABBITMQ_MANAGEMENT_PORT:-15672}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

log() { echo "[infra] $*"; }
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() {  # host port seconds what
  local i
  for ((i = 0; i < $3 * 5; i++)); do answers "$1" "$2" && return 0; sleep 0.2; done
  log "$4 did not answer on $1:$2 within $3 s"; return 1
}
is_local() { [[ "$1" == 127.* || "$1" == localhost || "$1" == ::1 ]]; }
apt_updated=0
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then log "need root to apt-get install $*"; return 1; fi
  if [[ $apt_updated -eq 0 ]]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if answers "$PG_HOST" "$PG_PORT"; then log "PostgreSQL answers on $PG_HOST:$PG_PORT"; return; fi
  is_local "$PG_HOST" || { log "PostgreSQL at $PG_HOST:$PG_PORT does not answer"; exit 1; }
  if ! command -v pg_ctlcluster >/dev/null; then
    log "installing postgresql"; apt_install postgresql
  fi
  local version; version=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port "$PG_HOST" "$PG_PORT" 30 PostgreSQL
  # The suite connects as postgres over TCP without a password on a development machine.
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q "ticket-triage" "$hba"; then
    printf '# ticket-triage local development\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' \
      | cat - "$hba" > "$hba.new" && mv "$hba.new" "$hba" && chown postgres: "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
}

ensure_rabbitmq() {
  if ! answers "$AMQP_HOST" "$AMQP_PORT"; then
    is_local "$AMQP_HOST" || { log "RabbitMQ at $AMQP_HOST:$AMQP_PORT does not answer"; exit 1; }
    if ! command -v rabbitmq-server >/dev/null; then
      log "installing rabbitmq-server"; apt_install rabbitmq-server
    fi
    log "starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_port "$AMQP_HOST" "$AMQP_PORT" 90 RabbitMQ
  else
    log "RabbitMQ answers on $AMQP_HOST:$AMQP_PORT"
  fi
  if is_local "$AMQP_HOST" && command -v rabbitmq-plugins >/dev/null && ! answers "$AMQP_HOST" "$MGMT_PORT"; then
    log "enabling the management plugin"
    rabbitmq-plugins enable rabbitmq_management >/dev/null
    wait_port "$AMQP_HOST" "$MGMT_PORT" 60 "RabbitMQ management"
  fi
}

ensure_redis() {
  if answers "$REDIS_HOST" "$REDIS_PORT"; then log "Redis answers on $REDIS_HOST:$REDIS_PORT"; return; fi
  is_local "$REDIS_HOST" || { log "Redis at $REDIS_HOST:$REDIS_PORT does not answer"; exit 1; }
  if ! command -v redis-server >/dev/null; then log "installing redis-server"; apt_install redis-server; fi
  log "starting Redis"
  redis-server --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
  wait_port "$REDIS_HOST" "$REDIS_PORT" 30 Redis
}

ensure_postgres
ensure_rabbitmq
ensure_redis

# Test tools from Debian: docker-compose validates docker-compose.yml without an engine;
# chromium renders the dashboard in the browser test; wrk drives `make bench`; promtool (package
# prometheus) checks and unit-tests deploy/prometheus (tests/deploy/test_monitoring.py).
ensure_tools() {
  local missing=()
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v wrk >/dev/null || missing+=(wrk)
  if [[ ${#missing[@]} -gt 0 ]]; then log "installing ${missing[*]}"; apt_install "${missing[@]}"; fi
}
if [[ "${INFRA_TOOLS:-0}" == 1 ]]; then ensure_tools; fi
