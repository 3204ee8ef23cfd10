"""Helpers for run-notebooks.sh: swap the kernel-setup cell for the rapaio kernel, and check executed outputs.

  ci_notebook.py prepare IN.ipynb OUT.ipynb KERNEL_NAME JAR_OR_DIR...
  ci_notebook.py check EXECUTED.ipynb
  ci_notebook.py starts KERNEL_NAME COUNT TIMEOUT_SECONDS
"""
import sys
import time

import nbformat

SETUP_TAG = "kernel-setup"


def prepare(src, dst, kernel_name, jars):
    nb = nbformat.read(src, as_version=4)
    setup = [c for c in nb.cells if c.cell_type == "code" and SETUP_TAG in c.metadata.get("tags", [])]
    if len(setup) != 1:
        sys.exit(f"{src}: expected exactly one code cell tagged '{SETUP_TAG}', found {len(setup)}")
    # rapaio's %jar takes one jar or a folder of jars per line; IJava/JJava's %jars line is not understood by it.
    setup[0].source = "\n".join(f"%jar {jar}" for jar in jars)
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Java (rapaio, CI)", "language": "java"}
    nbformat.write(nb, dst)


def text_of(output):
    if output.output_type == "stream":
        return output.text
    return output.get("data", {}).get("text/plain", "")


def check(path):
    nb = nbformat.read(path, as_version=4)
    expect = nb.metadata.get("dl4jquant", {})
    problems = []
    texts, mimetypes = [], set()
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            texts.append(text_of(output))
            mimetypes.update(output.get("data", {}).keys())
    if not expect.get("expected_outputs") and not expect.get("expected_mimetypes"):
        problems.append("notebook metadata has no dl4jquant.expected_outputs/expected_mimetypes to check")
    joined = "".join(texts)
    problems += [f"expected output missing: {m!r}" for m in expect.get("expected_outputs", []) if m not in joined]
    problems += [f"expected {m} output missing" for m in expect.get("expected_mimetypes", []) if m not in mimetypes]
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    return 1 if problems else 0


def starts(kernel_name, count, timeout):
    """Starts the kernel COUNT times in a row, each once, with no retry: a start counts when the kernel answers
    kernel_info within TIMEOUT_SECONDS, runs a cell (shell and iopub), answers the heartbeat and shuts down on request
    (control). Prints one line per start and a summary; exit code 1 unless every start succeeded."""
    from jupyter_client.manager import KernelManager
    ok = 0
    for i in range(1, count + 1):
        km = KernelManager(kernel_name=kernel_name)
        begin = time.monotonic()
        failure = None
        try:
            km.start_kernel()
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=timeout)
                reply = kc.execute_interactive("int x = 6 * 7; x", timeout=timeout)
                if reply["content"]["status"] != "ok":
                    failure = f"cell status {reply['content']['status']}"
                elif not kc.is_alive():
                    failure = "no heartbeat"
            finally:
                kc.stop_channels()
        except Exception as e:  # the kernel did not answer: that start failed
            failure = f"{type(e).__name__}: {e}"
        finally:
            km.shutdown_kernel(now=failure is not None)
        seconds = time.monotonic() - begin
        if failure is None:
            ok += 1
            print(f"start {i}: ok in {seconds:.1f} s", flush=True)
        else:
            print(f"start {i}: FAILED after {seconds:.1f} s: {failure}", flush=True)
    print(f"kernel starts: {ok}/{count} succeeded on the first try")
    return 0 if ok == count else 1


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "starts":
        sys.exit(starts(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    else:
        sys.exit(__doc__)
