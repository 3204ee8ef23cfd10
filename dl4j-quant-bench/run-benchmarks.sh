#!/usr/bin/env bash
# Runs the JMH benchmarks under OMP_NUM_THREADS=1 and under ND4J's default thread count, then writes the Markdown
# tables into ../README.md between the BENCHMARKS markers (and into target/benchmarks.md).
# Usage: dl4j-quant-bench/run-benchmarks.sh [extra JMH args, e.g. -p model=mlp]
set -euo pipefail
cd "$(dirname "$0")/.."
out=dl4j-quant-bench/target
mkdir -p "$out"
mvn -B -q -o -pl dl4j-quant-bench -am -DskipTests package dependency:build-classpath \
    -Dmdep.outputFile="$PWD/$out/bench-cp.txt" >/dev/null
cp="dl4j-quant-bench/target/classes:$(cat "$out/bench-cp.txt")"
jvm=(java -Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2 -cp "$cp")

for threads in 1 default; do
  if [ "$threads" = 1 ]; then export OMP_NUM_THREADS=1; else unset OMP_NUM_THREADS; fi
  "${jvm[@]}" org.openjdk.jmh.Main 'InferenceBenchmark|ObserverBenchmark' -rf json \
      -rff "$out/jmh-threads-$threads.json" "$@"
done
"${jvm[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn io.github.dl4jquant.bench.ModelSizeReport > "$out/model-sizes.json"
python3 dl4j-quant-bench/format_results.py "$out" README.md
