#!/usr/bin/env bash
# Runs the JMH benchmarks under OMP_NUM_THREADS=1 and under ND4J's default thread count, PyTorchBenchmark (PyTorch's own
# fp32 and fbgemm int8 on the same shapes; built with -Ppytorch, which fetches libtorch once) likewise, then writes the
# Markdown tables into ../README.md between the BENCHMARKS markers (and into target/benchmarks.md).
# Usage: dl4j-quant-bench/run-benchmarks.sh [extra JMH args, e.g. -p model=mlp]
set -euo pipefail
cd "$(dirname "$0")/.."
out=dl4j-quant-bench/target
mkdir -p "$out"
build=(mvn -B -q -pl dl4j-quant-bench -am -Ppytorch -DskipTests package dependency:build-classpath
       -Dmdep.outputFile="$PWD/$out/bench-cp.txt")
"${build[@]}" -o >/dev/null || "${build[@]}" >/dev/null  # online only when libtorch is not in ~/.m2 yet
cp="dl4j-quant-bench/target/classes:$(cat "$out/bench-cp.txt")"
jvm=(java -Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2 -cp "$cp")

for threads in 1 default; do
  if [ "$threads" = 1 ]; then export OMP_NUM_THREADS=1; else unset OMP_NUM_THREADS; fi
  "${jvm[@]}" org.openjdk.jmh.Main 'InferenceBenchmark|ObserverBenchmark' -rf json \
      -rff "$out/jmh-threads-$threads.json" "$@"
  "${jvm[@]}" org.openjdk.jmh.Main CnnInferenceBenchmark -rf json -rff "$out/jmh-cnn-threads-$threads.json" "$@"
  "${jvm[@]}" org.openjdk.jmh.Main PyTorchBenchmark -rf json -rff "$out/jmh-pytorch-threads-$threads.json" "$@"
done
"${jvm[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn io.github.dl4jquant.bench.ModelSizeReport > "$out/model-sizes.json"
# PyTorch's own CNN numbers (Debian's python3-torch; the README's CNN table is assembled from these two sets of files)
/usr/bin/python3 dl4j-quant-bench/python/pytorch_cnn_bench.py "$out/pytorch-cnn.json" || echo "no python3-torch: CNN peer skipped"
python3 dl4j-quant-bench/format_results.py "$out" README.md
