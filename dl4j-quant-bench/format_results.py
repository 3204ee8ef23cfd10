"""Turns JMH JSON results (two thread settings; PyTorch's too when present) and the model-size report into Markdown
tables in the README: one set for the dense models (µs), one for the CNNs (ms)."""
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
         "| model | batch | DL4J fp32 | reference | int8 | dynamic int8 | int8 speed-up | dynamic speed-up |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
models = ["dense784x512", "dense4096", "mlp"]
for model in models:
    for batch in ("1", "32", "256"):
        cell = {}
        for variant in ("fp32", "reference", "int8", "dynamic"):
            key = ("InferenceBenchmark", "output",
                   tuple(sorted({"model": model, "batch": batch, "variant": variant}.items())))
            if any(key in runs[t] for t in runs):
                cell[variant] = best(key)
        if "fp32" not in cell:
            continue
        fp32 = cell["fp32"][0]
        speed = {v: (f"{fp32 / cell[v][0]:.2f}x" if v in cell else "-") for v in ("int8", "dynamic")}
        lines.append(f"| {model} | {batch} | {fmt(cell['fp32'])} (threads {cell['fp32'][2]}) | "
                     + " | ".join(fmt(cell[v]) if v in cell else "-" for v in ("reference", "int8", "dynamic"))
                     + f" | {speed['int8']} | {speed['dynamic']} |")
if len(lines) == 4:  # no dense model ran (BENCH_MODELS="lenet resnet")
    lines = []

pt_runs = {t: load(t, "jmh-pytorch-threads") for t in ("1", "default")}
dense_pt_start = len(lines)
if any(pt_runs.values()):
    lines += ["", "PyTorch 1.10.2 (libtorch through the JavaCPP presets, `PyTorchBenchmark`) on the same shapes, float "
              "in to float out, µs: fp32 is `linear` + `relu`; int8 is the static fbgemm path `torch.ao` lowers to "
              "(`quantize_per_tensor`, `quantized::linear_relu`/`quantized::linear` on prepacked per-channel qint8 "
              "weights, quint8 activations between layers, `dequantize`). Each cell is the best of "
              "`OMP_NUM_THREADS=1` and the default, with the winning setting; our int8 is the int8 column above. "
              "ours vs PyTorch = PyTorch int8 µs / our int8 µs (above 1x: ours is faster).", "",
              "| model | batch | PyTorch fp32 | PyTorch int8 | PyTorch int8 speed-up | our int8 | ours vs PyTorch int8 |",
              "|---|---:|---:|---:|---:|---:|---:|"]

    def cell(c):
        return f"{fmt(c)} ({c[2]})" if c else "-"

    for model in models:
        for batch in ("1", "32", "256"):
            def key(bench, variant):
                return (bench, "output", tuple(sorted({"model": model, "batch": batch, "variant": variant}.items())))
            pt32, pt8 = best(key("PyTorchBenchmark", "fp32"), pt_runs), best(key("PyTorchBenchmark", "int8"), pt_runs)
            ours = best(key("InferenceBenchmark", "int8"))
            if not pt32 and not pt8:
                continue
            pt_speed = f"{pt32[0] / pt8[0]:.2f}x" if pt32 and pt8 else "-"
            vs = f"{pt8[0] / ours[0]:.2f}x" if pt8 and ours else "-"
            lines.append(f"| {model} | {batch} | {cell(pt32)} | {cell(pt8)} | {pt_speed} | {cell(ours)} | {vs} |")
    if len(lines) == dense_pt_start + 5:  # PyTorch ran the CNNs only
        del lines[dense_pt_start:]

ws_rows = []
for model in models:
    for batch in ("1", "32", "256"):
        def ws_key(variant):
            return ("WorkspaceInferenceBenchmark", "outputInWorkspace",
                    tuple(sorted({"model": model, "batch": batch, "variant": variant}.items())))
        fp32_ws, int8_ws = best(ws_key("fp32")), best(ws_key("int8"))
        if not fp32_ws or not int8_ws:
            continue
        pt8 = best(("PyTorchBenchmark", "output",
                    tuple(sorted({"model": model, "batch": batch, "variant": "int8"}.items()))), pt_runs)
        vs = f"{pt8[0] / int8_ws[0]:.2f}x" if pt8 else "-"
        ws_rows.append(f"| {model} | {batch} | {fmt(fp32_ws)} ({fp32_ws[2]}) | {fmt(int8_ws)} ({int8_ws[2]}) | "
                       f"{fp32_ws[0] / int8_ws[0]:.2f}x | {fmt(pt8) if pt8 else '-'} | {vs} |")
if ws_rows:
    lines += ["", "Served without a fresh output array per call (`WorkspaceInferenceBenchmark`: DL4J's "
              "`output(false, outputWorkspace, input)` into a reused workspace, see \"Serving\" above), µs, best of "
              "the two thread settings. PyTorch int8 is the column above, unchanged: libtorch frees and reuses its "
              "output memory at once, which is what the workspace gives DL4J.", "",
              "| model | batch | DL4J fp32 | our int8 | int8 speed-up | PyTorch int8 | ours vs PyTorch int8 |",
              "|---|---:|---:|---:|---:|---:|---:|"] + ws_rows

CNN_BATCHES = {"lenet": ("1", "32", "256"), "resnet": ("1", "8", "32")}


def key(bench, method, model, batch, variant):
    return (bench, method, tuple(sorted({"model": model, "batch": batch, "variant": variant}.items())))


cnn_rows, cnn_pt_rows, cnn_ws_rows = [], [], []
for model, batches in CNN_BATCHES.items():
    for batch in batches:
        cell = {v: best(key("InferenceBenchmark", "output", model, batch, v)) for v in ("fp32", "reference", "int8")}
        fp32, int8 = cell["fp32"], cell["int8"]
        if fp32:
            speed = f"{fp32[0] / int8[0]:.2f}x" if int8 else "-"
            cnn_rows.append(f"| {model} | {batch} | {fmt(fp32, 1000)} ({fp32[2]}) | "
                            + " | ".join(f"{fmt(cell[v], 1000)} ({cell[v][2]})" if cell[v] else "-"
                                         for v in ("reference", "int8"))
                            + f" | {speed} |")
        pt32 = best(key("PyTorchBenchmark", "output", model, batch, "fp32"), pt_runs)
        pt8 = best(key("PyTorchBenchmark", "output", model, batch, "int8"), pt_runs)
        if pt32 or pt8:
            def ms(c):
                return f"{fmt(c, 1000)} ({c[2]})" if c else "-"

            def ratio(a, b):
                return f"{a[0] / b[0]:.2f}x" if a and b else "-"
            cnn_pt_rows.append(f"| {model} | {batch} | {ms(pt32)} | {ms(pt8)} | {ratio(pt32, pt8)} | {ms(fp32)} | "
                               f"{ms(int8)} | {ratio(pt32, fp32)} | {ratio(pt32, int8)} | {ratio(pt8, int8)} |")
        fp32_ws = best(key("WorkspaceInferenceBenchmark", "outputInWorkspace", model, batch, "fp32"))
        int8_ws = best(key("WorkspaceInferenceBenchmark", "outputInWorkspace", model, batch, "int8"))
        if fp32_ws and int8_ws:
            vs = f"{pt8[0] / int8_ws[0]:.2f}x" if pt8 else "-"
            cnn_ws_rows.append(f"| {model} | {batch} | {fmt(fp32_ws, 1000)} ({fp32_ws[2]}) | "
                               f"{fmt(int8_ws, 1000)} ({int8_ws[2]}) | {fp32_ws[0] / int8_ws[0]:.2f}x | "
                               f"{fmt(pt8, 1000) if pt8 else '-'} | {vs} |")
if cnn_rows:
    lines += ["", "CNNs (`BenchModels`: `lenet`, conv-BN-ReLU-maxpool twice, dense 128, softmax 10 on 1x28x28; "
              "`resnet`, a stem conv and three basic residual blocks, one with a stride-2 1x1 projection, global "
              "average pooling, softmax 10 on 3x32x32), latency of `outputSingle` in ms, best of `OMP_NUM_THREADS=1` "
              "and the default with the winning setting (reference: `OMP_NUM_THREADS=1` only); int8 speed-up = DL4J "
              "fp32 / our int8. int8 is every convolution (its batch norm and ReLU folded in), pooling, residual add "
              "and dense layer on oneDNN int8.", "",
              "| model | batch | DL4J fp32 | reference | int8 | int8 speed-up |", "|---|---:|---:|---:|---:|---:|"] \
        + cnn_rows
if cnn_pt_rows:
    lines += ["", "PyTorch 1.10.2 on the CNN shapes, ms (`PyTorchBenchmark`): fp32 is eager `eval()` (`conv2d`, "
              "`batch_norm`, `relu`, `max_pool2d`/`adaptive_avg_pool2d`, `add`, `linear`, `softmax`); int8 is the "
              "fbgemm path `convert_fx` lowers to, batch norms folded (`quantized::conv2d_relu`/`conv2d` on "
              "prepacked per-channel weights, quint8 pooling, `quantized::add_relu`, `quantized::linear`, one "
              "`dequantize`). Ratios: PyTorch's time / ours (above 1x: ours is faster).", "",
              "| model | batch | PyTorch fp32 | PyTorch int8 | PyTorch int8 speed-up | DL4J fp32 | our int8 | "
              "DL4J fp32 vs PyTorch fp32 | our int8 vs PyTorch fp32 | our int8 vs PyTorch int8 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + cnn_pt_rows
if cnn_ws_rows:
    lines += ["", "CNNs served into a reused output workspace (`WorkspaceInferenceBenchmark`), ms, best of the two "
              "thread settings; PyTorch int8 as above.", "",
              "| model | batch | DL4J fp32 | our int8 | int8 speed-up | PyTorch int8 | ours vs PyTorch int8 |",
              "|---|---:|---:|---:|---:|---:|---:|"] + cnn_ws_rows

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
        lines.append(f"| {s['model']} | {s['fp32_file']:,} | {s['int8_file']:,} | {s['int8_file'] / s['fp32_file']:.3f} "
                     f"| {s['fp32_weight_bytes']:,} | {s['int8_weight_bytes']:,} |")

table = "\n".join(lines).lstrip("\n") + "\n"
open(os.path.join(out_dir, "benchmarks.md"), "w").write(table)
text = open(readme).read() if readme else ""
if START in text and END in text:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    open(readme, "w").write(head + START + "\n" + table + END + tail)
print(table)
