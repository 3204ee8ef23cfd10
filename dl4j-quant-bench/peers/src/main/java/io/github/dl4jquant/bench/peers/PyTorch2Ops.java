package io.github.dl4jquant.bench.peers;

import static org.bytedeco.pytorch.global.torch.from_blob;
import static org.bytedeco.pytorch.global.torch.quantize_per_channel;
import static org.bytedeco.pytorch.global.torch.zeros;

import com.fasterxml.jackson.databind.JsonNode;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.CompilationUnit;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.Function;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.QualifiedName;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** The libtorch 2.7 calls the PyTorch 2 harness shares: tensors from the manifest, boxed op calls, int lists. */
final class PyTorch2Ops {
    /** {@code torch.finfo(torch.float32).eps}, the observers' lower bound on a scale. */
    static final double FLOAT_EPS = Math.ulp(1.0f);

    /**
     * Compiles {@code pair}; held for the JVM's lifetime: the Function points into it, and a collected
     * CompilationUnit frees it (a SIGSEGV in {@code Function.run} with libtorch 1.10 when it was a temporary).
     */
    private static final CompilationUnit PAIR_UNIT =
            new CompilationUnit("def pair(a: int, b: int) -> List[int]:\n    return [a, b]\n");
    private static final Function PAIR = PAIR_UNIT.get_function(new QualifiedName("pair"));

    private PyTorch2Ops() {
    }

    /** A float32 libtorch tensor owning a copy of {@code t}. */
    static Tensor tensor(PeerModel.Tensor t) {
        try (FloatPointer data = new FloatPointer(t.data())) {
            return from_blob(data, t.shape(), new TensorOptions(ScalarType.Float)).clone();
        }
    }

    /** The manifest tensor {@code node.get(field)}. */
    static Tensor tensor(PeerModel model, JsonNode node, String field) {
        JsonNode entry = node.get(field);
        if (entry == null) {
            throw new IllegalArgumentException("Node '" + node.get("name").asText() + "' (" + node.get("op").asText()
                    + ") of " + model.dir() + " has no '" + field + "': export the model again");
        }
        return tensor(model.tensor(entry));
    }

    /** {@code [a, b]} as an IValue int list, for {@code conv2d_prepack}'s stride, padding and dilation. */
    static IValue intList(long a, long b) {
        IValueVector stack = new IValueVector(new IValue(a), new IValue(b));
        PAIR.run(stack);
        return new IValue(stack.get(0)); // a copy: get(0) points into the vector, freed with it
    }

    static OperatorHandle op(String name, String overload) {
        return Dispatcher.singleton().findSchemaOrThrow(name, overload);
    }

    /** Calls {@code op} boxed, as TorchScript does; its single result. */
    static IValue call(OperatorHandle op, IValue... args) {
        IValueVector stack = new IValueVector(args);
        op.callBoxed(stack);
        return new IValue(stack.get(0));
    }

    /**
     * Per-channel (dimension 0) symmetric qint8 weights as PyTorch's default weight observer
     * ({@code PerChannelMinMaxObserver}, {@code per_channel_symmetric}, [-128, 127]) computes them:
     * scale = max|w| / ((127 - -128) / 2), zero point 0.
     */
    static Tensor perChannelQInt8(Tensor weight) {
        long[] rest = new long[(int) weight.dim() - 1];
        for (int d = 0; d < rest.length; d++) {
            rest[d] = d + 1;
        }
        Tensor scale = weight.abs().amax(rest, false).div(new Scalar(127.5)).clamp_min(new Scalar(FLOAT_EPS))
                .toType(ScalarType.Double);
        return quantize_per_channel(weight, scale, zeros(weight.size(0)).toType(ScalarType.Long), 0,
                ScalarType.QInt8);
    }
}
