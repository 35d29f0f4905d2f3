#!/usr/bin/env bash
# Mutation testing (mutmut) over the modules where a mistake costs money or trust.
#
#   bench/mutation.sh                 # every module below, one after the other
#   bench/mutation.sh access formulas # only these (names from the table below)
#   MUTATION_RERUN=1 bench/mutation.sh flags
#                                     # after adding tests: keep the last run of `flags`, copy the
#                                     # checkout in again and rerun only its survivors (minutes, not
#                                     # half an hour); the score line then counts the whole module
#   MUTATION_ONLY='dealgate.imports.services.xǁDealImporterǁwrite__mutmut_*' bench/mutation.sh import-write
#                                     # only the mutants whose names match these globs (space-
#                                     # separated; mutmut's names, see `mutmut results`): for a
#                                     # module too big to run whole on a busy machine. The score
#                                     # line then counts only the mutants that were checked.
#
# Each module runs in its own throw-away copy of the checkout (under $MUTATION_DIR, default
# /tmp/dealgate-mutation), so the checkout stays clean, with only the tests that cover it: a
# run stays affordable on a 2-core machine. mutmut first runs the subset once to learn which
# test reaches which function, then runs each mutant against just those tests.
# Prints one line per module (killed / survived / no tests / timeout, score) and writes the
# surviving mutants' diffs to $MUTATION_DIR/<module>/survivors.txt. Not part of CI.
#
# Needs mutmut (bench/requirements.txt). Uses SQLite unless DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
MUTMUT="$(dirname "$PYTHON")/mutmut"
OUT=${MUTATION_DIR:-/tmp/dealgate-mutation}
JOBS=${MUTATION_JOBS:-1}

# name | file to mutate | tests that cover it (a test file, a folder, or one test as file::name: the
# signals leave out the incremental-equals-full scan test, 20-30 s a mutant on a busy machine; its
# recheck dates have a test of their own in test_signals_scan.py)
MODULES=(
  "gate|dealgate/pipelines/gate.py|tests/pipelines/test_pipelines_gate_rules.py tests/pipelines/test_pipelines_gate_mutants.py tests/core/test_rules_cache.py tests/core/test_core_moves.py tests/core/test_core_criteria.py tests/web/test_web_move.py tests/core/test_core_deal_writes.py"
  "criteria|dealgate/pipelines/criteria.py|tests/core/test_core_criteria.py tests/core/test_criteria_mutants.py tests/core/test_core_criteria_properties.py tests/core/test_criteria_facts_aggregate.py tests/core/test_core_moves.py"
  "access|dealgate/people/access.py|tests/people/test_people_access.py tests/web/test_web_access.py tests/web/test_web_manager_scope.py tests/api/test_api_manager_scope.py tests/cli/test_cli_manager_scope.py tests/web/test_web_board.py"
  "deal-services|dealgate/deals/services.py|tests/core tests/test_smoke_services.py"
  "flags|dealgate/deals/flags.py|tests/flags"
  "formulas|dealgate/analytics/formulas.py|tests/analytics/test_analytics_formulas_edges.py tests/analytics/test_analytics_formulas.py tests/analytics/test_analytics_metrics.py tests/analytics/test_analytics_forecast.py"
  "metrics|dealgate/analytics/metrics.py|tests/analytics/test_analytics_metrics.py tests/analytics/test_analytics_period_edges.py tests/analytics/test_analytics_asof_cuts.py tests/analytics/test_analytics_cut_values.py tests/analytics/test_analytics_metrics_edges.py tests/analytics/test_analytics_together.py tests/analytics/test_analytics_cli_and_pages.py"
  "import-write|dealgate/imports/services.py|tests/imports"
  "rules|dealgate/automation/engine.py|tests/automation/test_automation_engine.py tests/automation/test_automation_rules.py tests/automation/test_automation_handoff.py tests/automation/test_automation_signal_trigger.py tests/automation/test_automation_scans.py"
  "signals|dealgate/signals/detectors.py|tests/signals/test_signals_scan.py tests/signals/test_cadence.py tests/signals/test_retention_since_win.py tests/signals/test_incremental_scan.py::test_the_command_says_how_much_it_read_and_full_forces_a_full_scan tests/signals/test_rollups.py tests/signals/test_risk_and_commands.py tests/automation/test_automation_signal_trigger.py"
)

wanted=("$@")
summary=()
for entry in "${MODULES[@]}"; do
  IFS='|' read -r name file tests <<<"$entry"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  work="$OUT/$name"
  rerun=()
  if [ -n "${MUTATION_RERUN:-}" ] && [ -f "$work/results.txt" ]; then
    # Killed mutants stay killed when tests are only added; mutmut collects which code the new
    # tests reach, then runs the mutants named here: the survivors, and those an interrupted run
    # had not checked yet.
    rerun=($(grep -E ': (survived|no tests|not checked)$' "$work/results.txt" | sed 's/^ *//; s/:.*//'))
    if [ -n "${MUTATION_ONLY:-}" ]; then  # a restricted run: rerun only its own mutants
      read -r -a globs <<<"$MUTATION_ONLY"
      kept=()
      for n in "${rerun[@]}"; do for g in "${globs[@]}"; do [[ $n == $g ]] && { kept+=("$n"); break; }; done; done
      rerun=("${kept[@]}")
    fi
  else
    rm -rf "$work" && mkdir -p "$work"
  fi
  if [ -n "${MUTATION_ONLY:-}" ] && [ ${#rerun[@]} -eq 0 ]; then
    read -r -a rerun <<<"$MUTATION_ONLY"
  fi
  git ls-files -z --cached --others --exclude-standard | grep -zv '^bench/' | xargs -0 cp --parents -t "$work"
  # Only this module is mutated; only its tests run. The list below is read by mutmut from setup.cfg.
  {
    echo "[mutmut]"
    echo "source_paths = dealgate"
    echo "only_mutate = $file"
    # One argument a line. pytest-django must not put the checkout on sys.path (its
    # django_find_project does, from manage.py): the tests would import the unmutated code.
    # --reuse-db: each mutant runs in a forked child that would otherwise migrate a fresh test
    # database (~10 s on a busy machine) before its first test.
    printf 'pytest_add_cli_args =\n    -q\n    --reuse-db\n    -o\n    django_find_project=false\n'
    # A busy shared machine makes a run several times slower than the one mutmut timed.
    printf 'timeout_multiplier = 10.0\ntimeout_constant = 30.0\n'
    echo "pytest_add_cli_args_test_selection ="
    for t in $tests; do [ -e "$ROOT/${t%%::*}" ] && echo "    $t"; done  # a file, a folder or one test (file::name)
  } >"$work/setup.cfg"
  echo "[mutation] $name: mutating $file against: $tests"
  started=$(date +%s)
  # SQLite: the test database is a file kept between mutants (with one child at a time, as
  # SQLite has one writer). PostgreSQL (DATABASE_URL set) keeps test_<name> between them.
  export DEALGATE_TEST_SQLITE="$work/test.sqlite3"
  (cd "$work" && env -u PYTHONPATH "$MUTMUT" run --max-children "$JOBS" "${rerun[@]}" >"$work/run.log" 2>&1) || true

  (cd "$work" && env -u PYTHONPATH "$MUTMUT" results --all true >"$work/results.txt" 2>&1) || true
  : >"$work/survivors.txt"
  for mutant in $(grep -E ': (survived|no tests)$' "$work/results.txt" | sed 's/^ *//; s/:.*//'); do
    (cd "$work" && env -u PYTHONPATH "$MUTMUT" show "$mutant" >>"$work/survivors.txt" 2>&1) || true
  done
  line=$("$PYTHON" - "$work/results.txt" "$name" "$(( $(date +%s) - started ))" <<'PY'
import collections, sys
path, name, seconds = sys.argv[1], sys.argv[2], sys.argv[3]
# `mutmut results` lists every mutant of the module with its status ("not checked" for those a
# restricted or interrupted run left out); count only the checked ones.
counts = collections.Counter()
try:
    for row in open(path):
        if "__mutmut_" in row and ": " in row:
            counts[row.rsplit(": ", 1)[1].strip()] += 1
except OSError:
    pass
checked = sum(n for status, n in counts.items() if status not in ("not checked", "skipped"))
if not checked:
    print(f"{name}: no result (see run.log)")
    raise SystemExit
killed = counts["killed"] + counts["timeout"]
rest = f", {counts['not checked']} not checked" if counts["not checked"] else ""
print(f"{name}: {checked} mutants checked, {killed} killed, {counts['survived']} survived, "
      f"{counts['no tests']} no tests, {counts['suspicious']} suspicious{rest}, "
      f"score {100 * killed / checked:.1f}% ({seconds} s)")
PY
)
  echo "[mutation] $line"
  summary+=("$line")
done
echo
printf '%s\n' "${summary[@]}"
