package io.github.dl4jquant.nn.reference;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.WeightLayouts;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * What the three reference convolution layers do around DL4J's own float convolution: fake-quantize the input,
 * hand DL4J the fake-quantized weight (cached outside the workspaces, dropped when params change), fake-quantize the
 * output. Each runtime layer holds one and delegates to it.
 *
 * <pre>{@code
 * INDArray y = runtime.forward(input, in -> super.activate(false, mgr), mgr);
 * }</pre>
 */
final class ReferenceConvolutionRuntime {
    private final ReferenceQuantizedConvolution conf;
    private final String name;
    private volatile INDArray cachedWeight;

    ReferenceConvolutionRuntime(ReferenceQuantizedConvolution conf) {
        this.conf = conf;
        this.name = conf.getClass().getSimpleName() + " '" + conf.asConvolution().getLayerName() + "'";
    }

    String name() {
        return name;
    }

    /** The convolution of the fake-quantized input by {@code floatForward}, then the output fake-quantization. */
    INDArray forward(boolean training, INDArray input, java.util.function.Function<INDArray, INDArray> floatForward,
                     LayerWorkspaceMgr workspaceMgr) {
        if (training) {
            throw Int8Layer.inferenceOnly(name);
        }
        INDArray y = floatForward.apply(QuantOps.fakeQuantize(input, conf.getQuantization().input()));
        QParams out = conf.getQuantization().output();
        if (out == null) {
            return y;
        }
        INDArray q = QuantOps.fakeQuantize(y, out);
        return workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, y.dataType(), y.shape(), 'c').assign(q);
    }

    /** qdq(W) in the layer's own layout, computed once per set of params, outside any workspace. */
    INDArray weight(INDArray floatWeight) {
        INDArray w = cachedWeight;
        if (w == null) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                w = WeightLayouts.fakeQuantizedWeight(conf.asConvolution(), floatWeight,
                        conf.getQuantization().weight()).castTo(floatWeight.dataType());
            }
            cachedWeight = w;
        }
        return w;
    }

    void paramsChanged() {
        cachedWeight = null;
    }
}
