#!/usr/bin/env bash
# Runs the JMH benchmarks of our int8 and of its peers on one machine in one sitting, then writes the Markdown tables
# into ../README.md between the BENCHMARKS markers (and into target/benchmarks.md; only there when BENCH_MODELS
# restricts the run).
#
# 1. PeerModelExport writes the benchmark networks (weights, inputs, calibration rows) to target/peer-models, and
#    python/build_onnx_models.py (Debian's python3-onnx) turns them into fp32 and QDQ int8 ONNX models.
# 2. Under OMP_NUM_THREADS=1 and under the default thread count: ours (InferenceBenchmark: DL4J fp32, int8, dynamic
#    int8 for the dense models; WorkspaceInferenceBenchmark: the serving recipe), and PyTorch 2.7.1
#    (PyTorch2Benchmark in dl4j-quant-bench/peers, its own JVM: fp32, int8 on the x86, fbgemm and onednn engines).
#    ONNX Runtime takes its threads from its session options, not OpenMP: OnnxRuntimeBenchmark runs once, with 1
#    and 2 intra-op threads. The tables take the best setting of each cell.
# 3. ObserverBenchmark (calibration cost) and ModelSizeReport.
#
# Each model runs at its own batch sizes (the MLPs and lenet at 1, 32, 256; resnet at 1, 8, 32; lstm, DL4J fp32 against
# dynamic int8 only and without peers, at 1, 32, 64), so the script passes
# -p model/batch/variant itself: restrict the models with BENCH_MODELS, not with -p model= (JMH would add to the list).
# Usage: [BENCH_MODELS="mlp lenet"] [JMH_ITERATIONS="-wi 3 -w 1 -i 4 -r 1"] [JMH_CNN_ITERATIONS=...] \
#        dl4j-quant-bench/run-benchmarks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=dl4j-quant-bench/target
mkdir -p "$out"
classpath() {  # module, classpath file; online only when a dependency is not in ~/.m2 yet
  local build=(mvn -B -q -Ppeers -pl "$1" -am -DskipTests package dependency:build-classpath
               -Dmdep.outputFile="$PWD/$2")
  "${build[@]}" -o >/dev/null || "${build[@]}" >/dev/null
}
classpath dl4j-quant-bench "$out/bench-cp.txt"
classpath dl4j-quant-bench/peers "$out/peers-cp.txt"
jvm=(java -Dorg.bytedeco.javacpp.platform.extension=-onednn-avx2 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
     -cp "dl4j-quant-bench/target/classes:$(cat "$out/bench-cp.txt")")
peers=(java -Dpeer.models="$out/peer-models" -cp "dl4j-quant-bench/peers/target/classes:$(cat "$out/peers-cp.txt")")
# eager PyTorch mallocs every activation afresh: glibc must keep what it frees, or PyTorch times page faults
# (PyTorch2Benchmark checks this; see its Javadoc)
pytorch=(env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296 "${peers[@]}")

read -r -a models <<< "${BENCH_MODELS:-dense784x512 dense4096 mlp lenet resnet lstm}"
is_recurrent() { [ "$1" = lstm ]; }
read -r -a peer_models <<< "$(for m in "${models[@]}"; do is_recurrent "$m" || printf '%s ' "$m"; done)"
if [ ${#peer_models[@]} -gt 0 ]; then
  "${jvm[@]}" io.github.dl4jquant.bench.PeerModelExport "$out/peer-models" "${peer_models[@]}"
  /usr/bin/python3 dl4j-quant-bench/python/build_onnx_models.py "$out/peer-models" "${peer_models[@]}" >/dev/null
fi

# Dense models: 3 warm-up iterations of 1 s and 4 measured ones. CNNs: 2 and 3, since their cells take ms to a second,
# so C2's late compilations (see InferenceBenchmark) weigh little, and the run stays short.
read -r -a dense_iterations <<< "${JMH_ITERATIONS:--wi 3 -w 1 -i 4 -r 1}"
read -r -a cnn_iterations <<< "${JMH_CNN_ITERATIONS:--wi 2 -w 1 -i 3 -r 1}"
batches() { case "$1" in resnet) echo 1,8,32 ;; lstm) echo 1,32,64 ;; *) echo 1,32,256 ;; esac; }
is_cnn() { case "$1" in lenet|resnet) return 0 ;; *) return 1 ;; esac; }

rm -f "$out"/jmh-threads-*.json "$out"/jmh-pytorch2-threads-*.json "$out"/jmh-ort-*.json
for threads in 1 default; do
  if [ "$threads" = 1 ]; then export OMP_NUM_THREADS=1; else unset OMP_NUM_THREADS; fi
  dense=$(for m in "${models[@]}"; do is_cnn "$m" || is_recurrent "$m" || echo "$m"; done)
  if [ "$threads" = 1 ] && [ -n "$dense" ]; then  # calibration cost, against a dense forward
    "${jvm[@]}" org.openjdk.jmh.Main ObserverBenchmark "${dense_iterations[@]}" -rf json \
        -rff "$out/jmh-threads-$threads-observers.json"
  fi
  for model in "${models[@]}"; do
    if is_recurrent "$model"; then  # recurrent layers are quantized dynamically only, as in PyTorch; no peer harness
      "${jvm[@]}" org.openjdk.jmh.Main '\.InferenceBenchmark\.' -p model="$model" -p batch="$(batches "$model")" \
          -p variant=fp32,dynamic -wi 3 -w 1 -i 5 -r 1 -rf json -rff "$out/jmh-threads-$threads-$model.json"
      continue
    fi
    # dynamic quantization leaves a CNN's convolutions fp32 (PyTorch has no dynamic convolution): not timed there
    variants=fp32,int8
    iterations=("${cnn_iterations[@]}")
    is_cnn "$model" || { variants+=,dynamic; iterations=("${dense_iterations[@]}"); }
    shape=(-p model="$model" -p batch="$(batches "$model")")
    "${jvm[@]}" org.openjdk.jmh.Main '\.InferenceBenchmark\.' "${shape[@]}" -p variant="$variants" \
        "${iterations[@]}" -rf json -rff "$out/jmh-threads-$threads-$model.json"
    "${jvm[@]}" org.openjdk.jmh.Main WorkspaceInferenceBenchmark "${shape[@]}" -p variant=int8 "${iterations[@]}" \
        -rf json -rff "$out/jmh-threads-$threads-$model-workspace.json"
    "${pytorch[@]}" org.openjdk.jmh.Main PyTorch2Benchmark "${shape[@]}" -p variant=fp32 -p engine=x86 \
        "${iterations[@]}" -rf json -rff "$out/jmh-pytorch2-threads-$threads-$model-fp32.json"
    "${pytorch[@]}" org.openjdk.jmh.Main PyTorch2Benchmark "${shape[@]}" -p variant=int8 -p engine=x86,fbgemm,onednn \
        "${iterations[@]}" -rf json -rff "$out/jmh-pytorch2-threads-$threads-$model-int8.json"
    if [ "$threads" = 1 ]; then
      "${peers[@]}" org.openjdk.jmh.Main OnnxRuntimeBenchmark "${shape[@]}" -p variant=fp32,int8 -p threads=1,2 \
          "${iterations[@]}" -rf json -rff "$out/jmh-ort-$model.json"
    fi
  done
done
"${peers[@]}" io.github.dl4jquant.bench.peers.OrtKernelCheck "${peer_models[@]}" > "$out/ort-kernels.txt" || true
"${jvm[@]}" io.github.dl4jquant.bench.ModelSizeReport > "$out/model-sizes.json"
# a restricted run (BENCH_MODELS) writes only target/benchmarks.md, leaving the README's full tables alone
readme=(README.md)
if [ -n "${BENCH_MODELS:-}" ]; then readme=(); fi
python3 dl4j-quant-bench/format_results.py "$out" "${readme[@]}"
