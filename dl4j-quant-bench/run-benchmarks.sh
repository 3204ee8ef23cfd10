#!/usr/bin/env bash
# Runs the JMH benchmarks under OMP_NUM_THREADS=1 and under ND4J's default thread count, PyTorchBenchmark (PyTorch's own
# fp32 and fbgemm int8 on the same shapes; built with -Ppytorch, which fetches libtorch once) likewise, then writes the
# Markdown tables into ../README.md between the BENCHMARKS markers (and into target/benchmarks.md; only there when
# BENCH_MODELS restricts the run).
#
# Each model runs at its own batch sizes (the MLPs and lenet at 1, 32, 256; resnet at 1, 8, 32), so the script passes
# -p model/batch/variant itself: restrict the models with BENCH_MODELS, not with -p model= (JMH would add to the list).
# The reference (fake-quantized) variant and ObserverBenchmark run under OMP_NUM_THREADS=1 only, which keeps the full
# run on a 2-core machine under 40 minutes; the tables take the best of the thread settings each cell has.
# Usage: [BENCH_MODELS="lenet resnet"] [JMH_ITERATIONS="-wi 4 -w 2 -i 5 -r 1"] [JMH_CNN_ITERATIONS=...] \
#        dl4j-quant-bench/run-benchmarks.sh \
#        [extra JMH args, e.g. -p variant=fp32,int8]
set -euo pipefail
cd "$(dirname "$0")/.."
out=dl4j-quant-bench/target
mkdir -p "$out"
build=(mvn -B -q -pl dl4j-quant-bench -am -Ppytorch -DskipTests package dependency:build-classpath
       -Dmdep.outputFile="$PWD/$out/bench-cp.txt")
"${build[@]}" -o >/dev/null || "${build[@]}" >/dev/null  # online only when libtorch is not in ~/.m2 yet
cp="dl4j-quant-bench/target/classes:$(cat "$out/bench-cp.txt")"
jvm=(java -Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2 -cp "$cp")

read -r -a models <<< "${BENCH_MODELS:-dense784x512 dense4096 mlp lenet resnet}"
# Dense models: 3 warm-up iterations of 1 s and 4 measured ones. CNNs: 2 and 3, since their cells take ms to a second
# (DL4J fp32 resnet at batch 32), so C2's late compilations (see InferenceBenchmark) weigh little, and the run stays
# short. Measured on the shared 2-core VM: the CNN half took 24 min with 3 + 4 iterations (other jobs running)
read -r -a dense_iterations <<< "${JMH_ITERATIONS:--wi 3 -w 1 -i 4 -r 1}"
read -r -a cnn_iterations <<< "${JMH_CNN_ITERATIONS:--wi 2 -w 1 -i 3 -r 1}"
batches() { case "$1" in resnet) echo 1,8,32 ;; *) echo 1,32,256 ;; esac; }
is_cnn() { case "$1" in lenet|resnet) return 0 ;; *) return 1 ;; esac; }

rm -f "$out"/jmh-threads-*.json "$out"/jmh-pytorch-threads-*.json
for threads in 1 default; do
  if [ "$threads" = 1 ]; then export OMP_NUM_THREADS=1; else unset OMP_NUM_THREADS; fi
  dense=$(for m in "${models[@]}"; do is_cnn "$m" || echo "$m"; done)
  if [ "$threads" = 1 ] && [ -n "$dense" ]; then  # calibration cost, against a dense forward
    "${jvm[@]}" org.openjdk.jmh.Main ObserverBenchmark "${dense_iterations[@]}" -rf json \
        -rff "$out/jmh-threads-$threads-observers.json" "$@"
  fi
  for model in "${models[@]}"; do
    # dynamic quantization leaves a CNN's convolutions fp32 (PyTorch has no dynamic convolution): not timed there
    variants=fp32,int8
    iterations=("${cnn_iterations[@]}")
    is_cnn "$model" || { variants+=,dynamic; iterations=("${dense_iterations[@]}"); }
    [ "$threads" = 1 ] && variants+=,reference
    shape=(-p model="$model" -p batch="$(batches "$model")")
    "${jvm[@]}" org.openjdk.jmh.Main '\.InferenceBenchmark\.' "${shape[@]}" -p variant="$variants" \
        "${iterations[@]}" -rf json -rff "$out/jmh-threads-$threads-$model.json" "$@"
    "${jvm[@]}" org.openjdk.jmh.Main WorkspaceInferenceBenchmark "${shape[@]}" "${iterations[@]}" -rf json \
        -rff "$out/jmh-threads-$threads-$model-workspace.json" "$@"
    "${jvm[@]}" org.openjdk.jmh.Main PyTorchBenchmark "${shape[@]}" "${iterations[@]}" -rf json \
        -rff "$out/jmh-pytorch-threads-$threads-$model.json" "$@"
  done
done
"${jvm[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn io.github.dl4jquant.bench.ModelSizeReport > "$out/model-sizes.json"
# PyTorch 1.13's own CNN numbers on Debian's python3-torch (onednn engine), a second peer beside libtorch's fbgemm
/usr/bin/python3 dl4j-quant-bench/python/pytorch_cnn_bench.py "$out/pytorch-cnn.json" || echo "no python3-torch: skipped"
# a restricted run (BENCH_MODELS) writes only target/benchmarks.md, leaving the README's full tables alone
readme=(README.md)
if [ -n "${BENCH_MODELS:-}" ]; then readme=(); fi
python3 dl4j-quant-bench/format_results.py "$out" "${readme[@]}"
