#!/usr/bin/env bash
# Weakens each memory ordering of health-core's protocols, one at a time, and runs the loom
# models against each weakened build: every weakening must make a model fail.
#
#   scripts/ordering-mutations.sh            all sites
#   scripts/ordering-mutations.sh slot.rs    only sites in files whose path contains slot.rs
#
# For every non-`Relaxed` ordering in the protocol files (the registry and heartbeat.rs),
# each weaker ordering the operation allows is tried: `Acquire` and `Release` become
# `Relaxed`, `AcqRel` becomes `Acquire` and `Release`, and every `fence(SeqCst)` is
# removed and, separately, weakened to `fence(AcqRel)`. A mutant is *caught* when a loom
# model fails; a mutant that passes every model *survived*: either that ordering is
# stronger than the protocol needs (weaken it for good, with an `// Ordering:` comment
# saying why), or a model is missing. The script exits 1 if any mutant survived.
#
# The mutants are built in a copy of the tracked sources under target/mutations, so the
# checkout is never modified, with a target dir of their own (incremental between runs).
# A run takes 10-60 s per mutant on a 2-core machine (25 mutants: ~5 min quiet, up to 25 min
# beside other builds), mostly the incremental release build.
set -euo pipefail
cd "$(dirname "$0")/.."

filter="${1:-}"
root="$PWD/target/mutations"
tree="$root/tree"
export CARGO_TARGET_DIR="$root/target"
export RUSTFLAGS="--cfg loom -C debug_assertions"
export LOOM_MAX_PREEMPTIONS=2
export CARGO_TERM_COLOR=never
# A model that runs longer than this under a mutant is reported, not waited for.
model_timeout=600

rm -rf "$tree"
mkdir -p "$tree"
git ls-files -z | xargs -0 cp --parents -t "$tree"
cd "$tree"

files=(health-core/src/registry.rs health-core/src/registry/*.rs health-core/src/heartbeat.rs)

# Builds the loom test binary and prints its path.
build() {
  cargo test -p health-core --release --test loom --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

# The models, in the binary's order, without the canary (it fails on purpose).
binary="$(build)"
[[ -x "$binary" ]] || { echo "the loom tests do not build unmutated" >&2; exit 2; }
mapfile -t models < <("$binary" --list 2>/dev/null | sed -n 's/: test$//p' | grep -v canary)
echo "baseline: ${#models[@]} models on the unmutated tree"
for model in "${models[@]}"; do
  "$binary" --exact "$model" --test-threads=1 >/dev/null 2>&1 ||
    { echo "model $model fails unmutated: fix it first" >&2; exit 2; }
done

# Runs the models against the current tree; prints "caught by <model>" or "SURVIVED".
verdict() {
  local binary
  binary="$(build)"
  if [[ ! -x "$binary" ]]; then
    echo "does not compile"
    return
  fi
  for model in "${models[@]}"; do
    local status=0
    timeout "$model_timeout" "$binary" --exact "$model" --test-threads=1 >/dev/null 2>&1 ||
      status=$?
    if [[ $status -eq 124 ]]; then
      echo "TIMEOUT in $model"
      return
    elif [[ $status -ne 0 ]]; then
      echo "caught by $model"
      return
    fi
  done
  echo "SURVIVED"
}

# Names the operation at line $2 of file $1: its function and the atomic method.
describe() {
  local file="$1" line="$2" function method
  function="$(awk -v line="$line" 'NR <= line && match($0, /fn [a-z_]+/) {
    name = substr($0, RSTART + 3, RLENGTH - 3) } END { print name }' "$file")"
  method="$(sed -n "$((line > 3 ? line - 3 : 1)),${line}p" "$file" |
    grep -o '\.\(load\|store\|swap\|fetch_[a-z]*\|compare_exchange[a-z_]*\)(' |
    tail -n 1 | tr -d '.(')"
  echo "$function: ${method:-fence}"
}

# Mutates line $2 of file $1 with sed expression $3, reports, and restores the file.
try() {
  local file="$1" line="$2" expression="$3" what="$4"
  local started result
  cp "$file" "$file.orig"
  sed -i "${line}${expression}" "$file"
  started=$SECONDS
  result="$(verdict)"
  mv "$file.orig" "$file"
  printf '%-9s %-30s %-44s %s (%ss)\n' "${result%% *}" "${file#health-core/src/}:$line" \
    "$what" "$result" "$((SECONDS - started))"
  [[ "$result" != SURVIVED ]] || survivors=$((survivors + 1))
}

survivors=0
mutants=0
printf '%-9s %-30s %-44s %s\n' result site mutation detail
for file in "${files[@]}"; do
  [[ -z "$filter" || "$file" == *"$filter"* ]] || continue
  # Code lines naming a non-Relaxed ordering; comments (// …) are skipped.
  while IFS=: read -r line text; do
    [[ "$text" =~ ^[[:space:]]*// ]] && continue
    occurrence=0
    for token in $(grep -o 'Ordering::\(Acquire\|Release\|AcqRel\|SeqCst\)' <<<"$text"); do
      occurrence=$((occurrence + 1))
      ordering="${token#Ordering::}"
      op="$(describe "$file" "$line")"
      if [[ "$text" == *"fence(Ordering::SeqCst)"* ]]; then
        try "$file" "$line" 's/fence(Ordering::SeqCst);//' "$op(SeqCst) removed"
        try "$file" "$line" 's/fence(Ordering::SeqCst)/fence(Ordering::AcqRel)/' \
          "$op(SeqCst) -> AcqRel"
        mutants=$((mutants + 2))
        continue
      fi
      case "$ordering" in
        Acquire | Release) weaker=(Relaxed) ;;
        AcqRel) weaker=(Acquire Release) ;;
        SeqCst) weaker=(AcqRel) ;;
      esac
      for to in "${weaker[@]}"; do
        try "$file" "$line" "s/Ordering::$ordering/Ordering::$to/$occurrence" \
          "$op $ordering -> $to"
        mutants=$((mutants + 1))
      done
    done
  done < <(grep -n 'Ordering::\(Acquire\|Release\|AcqRel\|SeqCst\)' "$file" || true)
done

echo
echo "$mutants mutants, $((mutants - survivors)) caught, $survivors survived"
[[ $survivors -eq 0 ]]
