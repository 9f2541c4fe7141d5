#!/usr/bin/env bash
# Runs the test suite N times in a row, optionally with every core kept busy by a background
# load, and prints pass/fail per run with the names of the failing tests. A test that fails once
# in N runs is a bug report (possibly about the product): this is how to find it.
#
#   bash scripts/flake-hunt.sh [-n RUNS] [--load] [--full] [--keep] [-- VITEST_ARGS...]
#
#   -n RUNS   how many runs (default 5)
#   --load    keep every core busy while the suite runs: stress-ng --cpu <cores> when installed
#             (Debian package stress-ng), else one busy shell loop per core
#   --full    run the README's test command (npm test: build, typecheck, vitest) each time;
#             default: build once, then vitest only
#   --keep    keep every run's log (default: only the logs of failing runs)
#   VITEST_ARGS  passed to vitest, e.g. -- test/e2e/cold.test.ts
# Logs: .flake-hunt/run-K.log and run-K.json (vitest's JSON report). Exit 0 when every run passed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=5 load=0 full=0 keep=0 args=()
while (($#)); do
  case "$1" in
    -n) runs=${2:?-n needs a number}; shift ;;
    --load) load=1 ;;
    --full) full=1 ;;
    --keep) keep=1 ;;
    --) shift; args=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "flake-hunt: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "flake-hunt: -n wants a positive number, got $runs" >&2; exit 2; }

out=.flake-hunt
mkdir -p "$out"
loaders=()
stop_load() {
  for p in "${loaders[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${loaders[@]}"; do wait "$p" 2>/dev/null; done
  loaders=()
}
trap stop_load EXIT
start_load() {
  local cores
  cores=$(nproc)
  if command -v stress-ng >/dev/null 2>&1; then
    stress-ng --cpu "$cores" --cpu-method all --quiet >/dev/null 2>&1 &
    loaders+=($!)
    echo "flake-hunt: background load: stress-ng --cpu $cores"
  else
    for ((c = 0; c < cores; c++)); do (while :; do :; done) & loaders+=($!); done
    echo "flake-hunt: background load: $cores busy loops (install stress-ng for a steadier load)"
  fi
}

if ((!full)); then
  echo "flake-hunt: building once (npm run build && npm run typecheck)"
  npm run -s build >/dev/null && npm run -s typecheck >/dev/null || { echo "flake-hunt: the build failed" >&2; exit 1; }
fi
((load)) && start_load

passed=0
for ((k = 1; k <= runs; k++)); do
  log=$out/run-$k.log json=$out/run-$k.json
  rm -f "$json"
  t0=$(date +%s)
  if ((full)); then
    # npm test ends in `vitest run`: the extra reporter arguments reach it
    npm test -- --reporter=default --reporter=json --outputFile.json="$json" "${args[@]}" >"$log" 2>&1
  else
    npx vitest run --reporter=default --reporter=json --outputFile.json="$json" "${args[@]}" >"$log" 2>&1
  fi
  rc=$?
  secs=$(($(date +%s) - t0))
  load1=$(cut -d' ' -f1 /proc/loadavg)
  if ((rc == 0)); then
    passed=$((passed + 1))
    printf 'run %d/%d: pass  %4d s  (load %s)\n' "$k" "$runs" "$secs" "$load1"
    ((keep)) || rm -f "$log" "$json"
  else
    printf 'run %d/%d: FAIL  %4d s  (load %s)  log: %s\n' "$k" "$runs" "$secs" "$load1" "$log"
    if [[ -s $json ]]; then
      node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        for (const f of r.testResults ?? []) {
          const rel = require("path").relative(process.cwd(), f.name);
          for (const t of f.assertionResults ?? []) if (t.status === "failed") {
            const why = (t.failureMessages?.[0] ?? "").split("\n")[0].slice(0, 160);
            console.log(`    ${rel} > ${[...(t.ancestorTitles ?? []), t.title].join(" > ")}\n      ${why}`);
          }
          if (f.status === "failed" && !(f.assertionResults ?? []).some((t) => t.status === "failed")) console.log(`    ${rel}: ${(f.message ?? "failed outside a test").split("\n")[0].slice(0, 160)}`);
        }' "$json"
    else
      echo "    (no JSON report: the run ended before vitest wrote it; last lines of the log:)"
      tail -n 5 "$log" | sed 's/^/    /'
    fi
  fi
done
stop_load
echo "flake-hunt: $passed of $runs runs passed$( ((load)) && echo ' under load')"
((passed == runs))
