#!/usr/bin/env bash
# Executes every notebooks/*.ipynb headless on the rapaio Java kernel (what CI can get; users run IJava/JJava), after
# swapping each notebook's kernel-setup cell; fails on any cell error or missing expected output. See README.md.
# Maven runs this in dl4j-quant-examples' integration-test phase; by hand, after `mvn -B -pl dl4j-quant-examples -am
# package -DskipTests`: bash dl4j-quant-examples/notebooks/run-notebooks.sh [NOTEBOOK...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=$(cd "$here/.." && pwd)/target
KERNEL_JAR=${KERNEL_JAR:-$target/notebook-kernel/rapaio-jupyter-kernel.jar}
DEPENDENCY_DIR=${DEPENDENCY_DIR:-$target/dependency}
EXAMPLES_JAR=${EXAMPLES_JAR:-$(ls "$target"/dl4j-quant-examples-*.jar 2>/dev/null | head -n 1)}
OUT_DIR=${OUT_DIR:-$target/notebooks}
# A start answers within about 5 s even on the loaded 2-core machine; nothing is retried.
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}
CELL_TIMEOUT=${CELL_TIMEOUT:-600}
# Fashion-MNIST source for ExampleData (-Ddl4jquant.data): the embedded subset by default, so run times do not depend
# on whether Debian's dataset-fashion-mnist is installed; NOTEBOOK_DATA=auto or debian uses the full set.
NOTEBOOK_DATA=${NOTEBOOK_DATA:-embedded}
# One OpenMP thread, as the Maven tests: on a loaded shared machine ND4J's spinning OpenMP threads otherwise slow
# training and inference several times over.
NOTEBOOK_OMP_THREADS=${NOTEBOOK_OMP_THREADS:-1}
# Debian's Jupyter runs on the system interpreter; a pyenv/venv python3 earlier on PATH would lack nbformat.
PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
JAVAC=${JAVA_HOME:+$JAVA_HOME/bin/}javac

for f in "$KERNEL_JAR" "$EXAMPLES_JAR"; do
  [ -f "$f" ] || { echo "run-notebooks: $f is missing; build with mvn -B -pl dl4j-quant-examples -am package" >&2; exit 1; }
done
[ -d "$DEPENDENCY_DIR" ] || { echo "run-notebooks: $DEPENDENCY_DIR is missing; build first" >&2; exit 1; }
"$PYTHON" -c 'import nbformat, nbclient, nbconvert' 2>/dev/null || {
  echo "run-notebooks: Jupyter is missing; apt-get install jupyter-nbconvert jupyter-client jupyter-core python3-nbclient" >&2
  exit 1
}

# A private Jupyter home: the kernelspec below, runtime files and config never touch the user's ~/.local or ~/.jupyter.
jhome=$(mktemp -d -t dl4jquant-jupyter.XXXXXX)
trap 'rm -rf "$jhome"' EXIT
export JUPYTER_PATH=$jhome/data JUPYTER_DATA_DIR=$jhome/data JUPYTER_RUNTIME_DIR=$jhome/runtime \
       JUPYTER_CONFIG_DIR=$jhome/config JUPYTER_PLATFORM_DIRS=0
kernel_name=dl4jquant-rapaio
mkdir -p "$JUPYTER_PATH/kernels/$kernel_name" "$JUPYTER_RUNTIME_DIR" "$JUPYTER_CONFIG_DIR" "$OUT_DIR"
# The kernel starts through ci/RapaioKernelLauncher with ci/patch's LoopThread ahead of rapaio 3.0.1's own, whose
# channel threads could end before their first pass (see that file).
"$JAVAC" -nowarn -d "$jhome/launcher" -cp "$KERNEL_JAR" "$here/ci/RapaioKernelLauncher.java" \
    "$here/ci/patch/org/rapaio/jupyter/kernel/channels/LoopThread.java"
cat > "$JUPYTER_PATH/kernels/$kernel_name/kernel.json" <<JSON
{"argv": ["$JAVA", "-Xmx3g", "-Djava.awt.headless=true", "-Ddl4jquant.data=$NOTEBOOK_DATA",
          "-cp", "$jhome/launcher:$KERNEL_JAR", "RapaioKernelLauncher", "{connection_file}"],
 "display_name": "Java (rapaio, CI)", "language": "java", "interrupt_mode": "message",
 "env": {"OMP_NUM_THREADS": "$NOTEBOOK_OMP_THREADS", "RJK_CLASSPATH": "", "RJK_COMPILER_OPTIONS": "", "RJK_INIT_SCRIPT": "", "RJK_TIMEOUT_MILLIS": "-1",
         "RJK_MIMA_CACHE": "$jhome/mima_cache"}}
JSON

# KERNEL_STARTS=N: no notebooks; start the kernel N times in a row, each once, and report how many started.
if [ -n "${KERNEL_STARTS:-}" ]; then
  rc=0
  "$PYTHON" "$here/ci/ci_notebook.py" starts "$kernel_name" "$KERNEL_STARTS" "$STARTUP_TIMEOUT" || rc=$?
  exit $rc
fi

run_one() {
  local src=$1 name; name=$(basename "$src" .ipynb)
  local prepared=$OUT_DIR/$name.rapaio.ipynb executed=$OUT_DIR/$name.out.ipynb log=$OUT_DIR/$name.log start=$SECONDS
  "$PYTHON" "$here/ci/ci_notebook.py" prepare "$src" "$prepared" "$kernel_name" "$DEPENDENCY_DIR" "$EXAMPLES_JAR"
  if ! "$PYTHON" -m nbconvert --to notebook --execute \
      --ExecutePreprocessor.kernel_name="$kernel_name" \
      --ExecutePreprocessor.startup_timeout="$STARTUP_TIMEOUT" \
      --ExecutePreprocessor.timeout="$CELL_TIMEOUT" \
      --output-dir "$OUT_DIR" --output "$name.out.ipynb" "$prepared" > "$log" 2>&1; then
    echo "run-notebooks: $name FAILED; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
  "$PYTHON" "$here/ci/ci_notebook.py" check "$executed" || return 1
  echo "run-notebooks: $name OK in $((SECONDS - start)) s, output $executed"
}

if [ $# -gt 0 ]; then notebooks=("$@"); else notebooks=("$here"/*.ipynb); fi
failed=0
for nb in "${notebooks[@]}"; do
  run_one "$nb" || failed=$((failed + 1))
done
echo "run-notebooks: ${#notebooks[@]} notebook(s), $failed failed"
[ "$failed" -eq 0 ]
