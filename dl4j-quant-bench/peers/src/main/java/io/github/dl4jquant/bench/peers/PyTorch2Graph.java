package io.github.dl4jquant.bench.peers;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;

/**
 * A network as a list of {@link PyTorch2Step}s in topological order, each reading its inputs from and writing its
 * output to a slot of a tensor array (slot 0 the network's input): an eager forward, one op after another, with no
 * graph compiler in between.
 */
final class PyTorch2Graph {
    private record Wired(PyTorch2Step step, int[] inputs, int output) {
    }

    private final List<Wired> steps;
    private final int slots;
    private final int output;

    private PyTorch2Graph(List<Wired> steps, int slots, int output) {
        this.steps = steps;
        this.slots = slots;
        this.output = output;
    }

    Tensor forward(Tensor x) {
        return pass(x, false);
    }

    /** The fp32 forward of the quantized ops, fixing their qparams from {@code x} (all the calibration rows). */
    Tensor calibrate(Tensor x) {
        return pass(x, true);
    }

    private Tensor pass(Tensor x, boolean calibrating) {
        Tensor[] values = new Tensor[slots];
        values[0] = x;
        for (Wired w : steps) {
            Tensor[] in = new Tensor[w.inputs.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = values[w.inputs[i]];
            }
            values[w.output] = calibrating ? w.step.calibrate(in) : w.step.run(in);
        }
        return values[output];
    }

    /** The name of the network's one input: what the nodes read but none writes ("in" for PeerModelExport's). */
    static String networkInput(List<JsonNode> nodes) {
        Set<String> written = new LinkedHashSet<>();
        Set<String> read = new LinkedHashSet<>();
        for (JsonNode n : nodes) {
            written.add(n.get("name").asText());
            n.get("inputs").forEach(i -> read.add(i.asText()));
        }
        read.removeAll(written);
        if (read.size() != 1) {
            throw new IllegalArgumentException("Expected one network input, found " + read
                    + ": the PyTorch 2 harness runs single-input networks only");
        }
        return read.iterator().next();
    }

    /** The inputs of {@code node}, by name. */
    static List<String> inputs(JsonNode node) {
        List<String> in = new ArrayList<>();
        node.get("inputs").forEach(i -> in.add(i.asText()));
        return in;
    }

    /** Wires steps by the names of their inputs and output. */
    static final class Builder {
        private final Map<String, Integer> slots = new HashMap<>();
        private final List<Wired> steps = new ArrayList<>();

        Builder(String input) {
            slots.put(input, 0);
        }

        Builder add(PyTorch2Step step, List<String> inputs, String output) {
            int[] in = new int[inputs.size()];
            for (int i = 0; i < in.length; i++) {
                in[i] = slot(inputs.get(i));
            }
            if (slots.containsKey(output)) {
                throw new IllegalArgumentException("'" + output + "' is written twice");
            }
            slots.put(output, slots.size());
            steps.add(new Wired(step, in, slots.get(output)));
            return this;
        }

        PyTorch2Graph build(String output) {
            return new PyTorch2Graph(List.copyOf(steps), slots.size(), slot(output));
        }

        private int slot(String name) {
            Integer s = slots.get(name);
            if (s == null) {
                throw new IllegalArgumentException("'" + name + "' is read before a node writes it: the manifest's "
                        + "nodes are not in topological order, or a fused node is read from outside its fusion");
            }
            return s;
        }
    }
}
