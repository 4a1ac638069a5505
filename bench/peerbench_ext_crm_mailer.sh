#!/usr/bin/env bash
# peerbench adapter for the CRM mailer (this project): the project's own copy of
# ../shared/peerbench/examples/ext_crm_mailer.sh, kept working with the project's layout.
#
#   ext_crm_mailer.sh setup     migrate into PEERBENCH_DB_URL, empty the adapter's OWN Redis db
#   ext_crm_mailer.sh enqueue   one campaign, N recipients (content.py's mailing as the campaign's
#                               template), started with mailer.services.campaign_start; prints
#                               {"enqueue_s": ...}
#   ext_crm_mailer.sh send      `manage.py mailer_send_now`: one sender pass, which sends the whole
#                               campaign (limits raised below) and returns when it is done
#
# run.py usage (from ../shared/peerbench, peerbench venv):
#   A=$CRM_DIR/bench/peerbench_ext_crm_mailer.sh
#   run.py --backends postgres --peers raw,post_office_default,django_mailer \
#     --ext crm_mailer "bash $A enqueue" "bash $A send" --ext-setup crm_mailer "bash $A setup"
#
# Knobs (environment):
#   CRM_DIR        project checkout to run (default: the checkout holding this script)
#   CRM_PY         python of the project venv (default $CRM_DIR/.venv/bin/python)
#   CRM_REDIS_URL  the adapter's own Redis (default redis://127.0.0.1:6391/0; 6379 is refused
#                  because setup empties the db)
#   CRM_DEBUG      DEBUG for the project (default False = production: JSON logs to stderr)
#   CRM_SEND_CMD   override the send step (e.g. for profiling), run in CRM_DIR
# The project's limits are lifted by its own settings, not by code:
#   MAILER_RATE_PER_HOUR=100000000, MAILER_WORKING_HOURS_ENABLED=false,
#   MAILER_MAX_CAMPAIGN_RECIPIENTS=10000000, MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR=1000000;
#   the per-manager daily limit is a database setting: GlobalMailAccount.per_user_daily_limit=0
#   ("0 — без лимита"); the smtp.bz quota gate is open because no quota row was ever synced.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CRM_DIR=${CRM_DIR:-$(cd "$HERE/.." && pwd)}
CRM_PY=${CRM_PY:-$CRM_DIR/.venv/bin/python}
CRM_REDIS_URL=${CRM_REDIS_URL:-redis://127.0.0.1:6391/0}
case "$CRM_REDIS_URL" in
  *:6379*) echo "ext_crm_mailer: refusing Redis on 6379 (setup empties the adapter's db)" >&2; exit 2 ;;
esac

export DJANGO_SETTINGS_MODULE=config.settings   # run.py exports the peers' settings module
unset DEVTOOLS MAIL_CATCHER                     # production-like: no dev tools
export ENV_FILE=/nonexistent/.env               # ignore any .env in the copy
export DATABASE_URL="$PEERBENCH_DB_URL"
export REDIS_URL="$CRM_REDIS_URL"
export DEBUG=${CRM_DEBUG:-False}
export SECRET_KEY=${SECRET_KEY:-peerbench-not-secret-peerbench-not-secret-peerbench-0123456789}
# Production settings refuse to start without it (the account's secrets are stored encrypted).
export MAILER_SECRETS_KEY=${MAILER_SECRETS_KEY:-cGVlcmJlbmNoLW9ubHktbm90LXNlY3JldC1rZXktMzI=}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost}
export DATA_DIR="$PEERBENCH_WORK/crm-data"
export MAILER_RATE_PER_HOUR=${MAILER_RATE_PER_HOUR:-100000000}
export MAILER_WORKING_HOURS_ENABLED=${MAILER_WORKING_HOURS_ENABLED:-false}
export MAILER_MAX_CAMPAIGN_RECIPIENTS=${MAILER_MAX_CAMPAIGN_RECIPIENTS:-10000000}
export MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR=${MAILER_THROTTLE_CAMPAIGN_START_PER_HOUR:-1000000}

cd "$CRM_DIR"
case "${1:-}" in
  setup)
    "$CRM_PY" manage.py migrate -v0
    "$CRM_PY" "$HERE/peerbench_ext_crm_mailer.py" flush-own-redis
    ;;
  enqueue)
    exec "$CRM_PY" "$HERE/peerbench_ext_crm_mailer.py" enqueue
    ;;
  send)
    if [ -n "${CRM_SEND_CMD:-}" ]; then
      eval "$CRM_SEND_CMD"
    else
      # CPU seconds of the sender process go to stderr (run.py keeps it in commands.log):
      # on a shared box they say more than the wall time does.
      TIMEFORMAT='crm_send_time real=%R user=%U sys=%S'
      time "$CRM_PY" manage.py mailer_send_now
    fi
    ;;
  env)  # print the environment the project sees (debugging)
    env | grep -E '^(DJANGO_SETTINGS_MODULE|DATABASE_URL|REDIS_URL|DEBUG|DATA_DIR|MAILER_)' | sort
    ;;
  *)
    echo "usage: $0 setup|enqueue|send|env" >&2; exit 2 ;;
esac
