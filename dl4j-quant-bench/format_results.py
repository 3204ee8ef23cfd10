"""Turns JMH JSON results (ours and the peers', two thread settings) and the model-size report into Markdown tables in
the README: ours against DL4J fp32 for the dense models (µs) and the CNNs (ms), then every engine side by side."""
import glob
import json
import os
import sys

out_dir = sys.argv[1]
readme = sys.argv[2] if len(sys.argv) > 2 else None  # None: target/benchmarks.md only
START, END = "<!-- BENCHMARKS:START -->", "<!-- BENCHMARKS:END -->"


def load(threads, prefix="jmh-threads"):
    """Every {prefix}-{threads}.json and {prefix}-{threads}-*.json (run-benchmarks.sh writes one per model)."""
    paths = glob.glob(os.path.join(out_dir, f"{prefix}-{threads}.json"))
    paths += sorted(glob.glob(os.path.join(out_dir, f"{prefix}-{threads}-*.json")))
    results = {}
    for path in paths:
        load_file(path, results)
    return results


def load_file(path, results):
    for r in json.load(open(path)):
        name = r["benchmark"].rsplit(".", 1)
        key = (name[0].rsplit(".", 1)[1], name[1], tuple(sorted(r.get("params", {}).items())))
        m = r["primaryMetric"]
        results[key] = (m["score"], float(m["scoreError"]))  # "NaN" with fewer than 3 iterations


runs = {t: load(t) for t in ("1", "default")}


def best(key, runs=runs):
    """Fastest of the two thread settings, with its error and which setting won; None if neither ran it."""
    cands = [(runs[t][key][0], runs[t][key][1], t) for t in runs if key in runs[t]]
    return min(cands) if cands else None


def fmt(score_err, scale=1.0):
    """µs as JMH gives them, or divided by scale (1000: ms)."""
    s, e, _ = score_err
    s, e = s / scale, e / scale
    d = 0 if s >= 100 else 1 if s >= 10 else 2
    if e != e:  # NaN: too few iterations for an error
        return f"{s:,.{d}f}"
    return f"{s:,.{d}f} ± {e:,.{d}f}"


lines = ["Latency of `outputSingle` in µs (JMH average time, ± 99.9% error), best of `OMP_NUM_THREADS=1` and the "
         "default thread count for each cell; speed-up = fp32 / variant from the same run.", "",
         "| model | batch | DL4J fp32 | int8 | dynamic int8 | int8 speed-up | dynamic speed-up |",
         "|---|---:|---:|---:|---:|---:|---:|"]
models = ["dense784x512", "dense4096", "mlp"]
for model in models:
    for batch in ("1", "32", "256"):
        cell = {}
        for variant in ("fp32", "int8", "dynamic"):
            key = ("InferenceBenchmark", "output",
                   tuple(sorted({"model": model, "batch": batch, "variant": variant}.items())))
            if any(key in runs[t] for t in runs):
                cell[variant] = best(key)
        if "fp32" not in cell:
            continue
        fp32 = cell["fp32"][0]
        speed = {v: (f"{fp32 / cell[v][0]:.2f}x" if v in cell else "-") for v in ("int8", "dynamic")}
        lines.append(f"| {model} | {batch} | {fmt(cell['fp32'])} (threads {cell['fp32'][2]}) | "
                     + " | ".join(fmt(cell[v]) if v in cell else "-" for v in ("int8", "dynamic"))
                     + f" | {speed['int8']} | {speed['dynamic']} |")
if len(lines) == 4:  # no dense model ran (BENCH_MODELS="lenet resnet")
    lines = []

CNN_BATCHES = {"lenet": ("1", "32", "256"), "resnet": ("1", "8", "32")}


def key(bench, method, model, batch, variant):
    return (bench, method, tuple(sorted({"model": model, "batch": batch, "variant": variant}.items())))


cnn_rows = []
for model, batches in CNN_BATCHES.items():
    for batch in batches:
        fp32 = best(key("InferenceBenchmark", "output", model, batch, "fp32"))
        int8 = best(key("InferenceBenchmark", "output", model, batch, "int8"))
        if fp32:
            speed = f"{fp32[0] / int8[0]:.2f}x" if int8 else "-"
            cnn_rows.append(f"| {model} | {batch} | {fmt(fp32, 1000)} ({fp32[2]}) | "
                            + (f"{fmt(int8, 1000)} ({int8[2]})" if int8 else "-") + f" | {speed} |")
if cnn_rows:
    lines += ["", "CNNs (`BenchModels`: `lenet`, conv-BN-ReLU-maxpool twice, dense 128, softmax 10 on 1x28x28; "
              "`resnet`, a stem conv and three basic residual blocks, one with a stride-2 1x1 projection, global "
              "average pooling, softmax 10 on 3x32x32), latency of `outputSingle` in ms, best of `OMP_NUM_THREADS=1` "
              "and the default with the winning setting; int8 speed-up = DL4J fp32 / our int8. int8 is every "
              "convolution (its batch norm and ReLU folded in), pooling, residual add and dense layer on oneDNN int8.",
              "", "| model | batch | DL4J fp32 | int8 | int8 speed-up |", "|---|---:|---:|---:|---:|"] + cnn_rows

lstm_rows = []
for batch in ("1", "32", "64"):
    fp32 = best(key("InferenceBenchmark", "output", "lstm", batch, "fp32"))
    dyn = best(key("InferenceBenchmark", "output", "lstm", batch, "dynamic"))
    if fp32 and dyn:
        lstm_rows.append(f"| {batch} | {fmt(fp32, 1000)} ({fp32[2]}) | {fmt(dyn, 1000)} ({dyn[2]}) | "
                         f"{fp32[0] / dyn[0]:.2f}x |")
if lstm_rows:
    lines += ["", "Recurrent (`BenchModels`' `lstm`: DL4J `LSTM(128 -> 256)`, tanh, over 50 time steps, the whole "
              "sequence output), latency of `outputSingle` in ms, best of the two thread settings with the winning "
              "one; dynamic int8 is `Quantizer.quantizeDynamic` (no peer harness for recurrent layers yet).", "",
              "| batch | DL4J fp32 | dynamic int8 | speed-up |", "|---:|---:|---:|---:|"] + lstm_rows

# Every engine side by side, on the networks PeerModelExport wrote: ours through plain output() and the workspace
# recipe, PyTorch 2.x (best engine and thread setting), ONNX Runtime (best of 1 and 2 intra-op threads).
pt2_runs = {t: load(t, "jmh-pytorch2-threads") for t in ("1", "default")}
ort_results = {}
for path in glob.glob(os.path.join(out_dir, "jmh-ort-*.json")):
    load_file(path, ort_results)


def best_peer(results_by_setting, bench, model, batch, variant, extra):
    """Fastest cell of bench over every thread setting and every value of parameter extra (engine, threads)."""
    cands = []
    for setting, results in results_by_setting.items():
        for (b, _, params), (score, err) in results.items():
            p = dict(params)
            if b == bench and p.get("model") == model and p.get("batch") == batch and p.get("variant") == variant:
                label = f"{extra} {p.get(extra)}" + (f", threads {setting}" if setting else "")
                cands.append((score, err, label))
    return min(cands) if cands else None


def us(c):
    return f"{fmt(c)} ({c[2]})" if c else "-"


PEER_BATCHES = {"dense784x512": ("1", "32", "256"), "dense4096": ("1", "32", "256"), "mlp": ("1", "32", "256"),
                "lenet": ("1", "32", "256"), "resnet": ("1", "8", "32")}
peer_rows = []
for model, batches in PEER_BATCHES.items():
    for batch in batches:
        ours = best(key("InferenceBenchmark", "output", model, batch, "int8"))
        ours_ws = best(key("WorkspaceInferenceBenchmark", "outputInWorkspace", model, batch, "int8"))
        dl4j = best(key("InferenceBenchmark", "output", model, batch, "fp32"))
        pt32 = best_peer(pt2_runs, "PyTorch2Benchmark", model, batch, "fp32", "engine")
        pt8 = best_peer(pt2_runs, "PyTorch2Benchmark", model, batch, "int8", "engine")
        ort32 = best_peer({"": ort_results}, "OnnxRuntimeBenchmark", model, batch, "fp32", "threads")
        ort8 = best_peer({"": ort_results}, "OnnxRuntimeBenchmark", model, batch, "int8", "threads")
        peers8 = [c for c in (pt8, ort8) if c]
        if not ours or not peers8:
            continue
        fastest = min(peers8)
        vs_ws = f"{fastest[0] / ours_ws[0]:.2f}x" if ours_ws else "-"
        peer_rows.append(f"| {model} | {batch} | {us(dl4j)} | {us(ours)} | {us(ours_ws)} | {us(pt32)} | {us(pt8)} | "
                         f"{us(ort32)} | {us(ort8)} | **{fastest[0] / ours[0]:.2f}x** | {vs_ws} |")
if peer_rows:
    lines += ["", "Every engine on the same networks, weights and inputs (`PeerModelExport` writes them; float in, "
              "float out), µs, the winning setting in brackets. Ours: `outputSingle` (plain `output()`) and the "
              "workspace recipe, best of `OMP_NUM_THREADS=1` and the default. PyTorch 2.7.1 (`PyTorch2Benchmark`, "
              "libtorch through the JavaCPP presets, its own JVM): fp32 eager ops; int8 the quantized ops "
              "`convert_fx` lowers to, best of the `x86`, `fbgemm` and `onednn` engines and of the two thread "
              "settings. ONNX Runtime 1.20 (`OnnxRuntimeBenchmark`): the fp32 model and the QDQ model "
              "`quantize_static` would make, optimisation level ALL (int8 runs QGemm/QLinearConv), best of 1 and 2 "
              "intra-op threads. vs fastest = fastest peer int8 / ours (above 1x: ours is faster).", "",
              "| model | batch | DL4J fp32 | our int8 `output()` | our int8 workspace | PyTorch fp32 | PyTorch int8 | "
              "ORT fp32 | ORT int8 | `output()` vs fastest | workspace vs fastest |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + peer_rows

obs = {}
for t in runs:
    for key, val in runs[t].items():
        if key[0] == "ObserverBenchmark":
            obs.setdefault(key[1], []).append((val[0], val[1], t))
if obs:
    base = min(obs["fp32Dense4096Forward"])
    lines += ["", "Calibration cost on one [256, 4096] float batch (µs), relative to DL4J's fp32 forward of a "
              "4096x4096 DenseLayer on the same batch:", "", "| operation | µs | ratio to fp32 forward |",
              "|---|---:|---:|"]
    for name in ("fp32Dense4096Forward", "minMaxObserve", "perChannelMinMaxObserve", "histogramObserve",
                 "quantizeToUbyte"):
        if name in obs:
            b = min(obs[name])
            lines.append(f"| {name} | {fmt(b)} | {b[0] / base[0]:.2f} |")

sizes_path = os.path.join(out_dir, "model-sizes.json")
if os.path.exists(sizes_path):
    sizes = json.load(open(sizes_path))
    lines += ["", "Model size (ModelSerializer zip) and heap bytes of weights:", "",
              "| model | fp32 file | int8 file | file ratio | fp32 weight bytes | int8 weight bytes |",
              "|---|---:|---:|---:|---:|---:|"]
    for s in sizes:
        model = s['model'] + (f" ({s['variant']})" if s.get('variant', 'int8') != 'int8' else "")
        lines.append(f"| {model} | {s['fp32_file']:,} | {s['int8_file']:,} | {s['int8_file'] / s['fp32_file']:.3f} "
                     f"| {s['fp32_weight_bytes']:,} | {s['int8_weight_bytes']:,} |")

table = "\n".join(lines).lstrip("\n") + "\n"
open(os.path.join(out_dir, "benchmarks.md"), "w").write(table)
text = open(readme).read() if readme else ""
if START in text and END in text:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    open(readme, "w").write(head + START + "\n" + table + END + tail)
print(table)
