package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.DenseArrays;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.kernel.DnnlInt8Pooling;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.PoolingGeometry;
import io.github.dl4jquant.nn.QuantMath;
import java.util.List;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The runtime layer of {@link QuantizedPooling}: {@link DnnlInt8Pooling} on the u8 values (1-D pooling on the
 * {@code [n, c, length, 1]} view), or DL4J's float pooling followed by the output quantization where the int8 kernel
 * cannot pool exactly: no oneDNN primitives, a mask, or an average that counts padding with a non-zero zero point
 * (oneDNN pads u8 averages with 0, PyTorch and DL4J with the float 0, which is the zero point). Inference only.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);    // runs QuantizedPoolingLayer.activate for the pooling vertex
 * }</pre>
 */
public class QuantizedPoolingLayer extends Int8Layer<QuantizedPooling> {
    private volatile Prepared prepared;

    public QuantizedPoolingLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        Prepared p = prepared();
        if (training) {
            throw Int8Layer.inferenceOnly(p.name);
        }
        PoolingGeometry g = p.geometry;
        INDArray x = DenseArrays.denseC(input.castTo(DataType.FLOAT));
        INDArray x4 = g.oneDimensional() && x.rank() == 3 ? (g.channelsLast()
                ? x.reshape('c', x.size(0), x.size(1), 1, x.size(2)) : x.reshape('c', x.size(0), x.size(1), x.size(2), 1))
                : x;
        if (p.kernel == null || maskArray != null || x4.rank() != 4) {
            return p.floatPooling(input, maskArray, workspaceMgr);
        }
        long[] s = x4.shape();
        int h = (int) (g.channelsLast() ? s[1] : s[2]);
        int w = (int) (g.channelsLast() ? s[2] : s[3]);
        if (!g.max() && g.averageCountsPadding() && p.qparams.zeroPoint() != 0 && g.padded(h, w)) {
            return p.floatPooling(input, null, workspaceMgr);
        }
        int[] kernel = g.kernel(h, w);
        int[] strides = g.strides(h, w);
        int[] pads = g.pads(h, w);
        int[] out = DnnlInt8Pooling.outputSize(h, w, kernel, strides, pads);
        long c = g.channelsLast() ? s[3] : s[1];
        INDArray y = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
                outputShape(g, s[0], c, out, x.rank()), 'c');
        if (!p.kernel.forward(input, x4, g.channelsLast(), kernel, strides, pads, y)) {
            rejectNaN(x, p.name);
            p.kernel.forwardNanFree(input, x4, g.channelsLast(), kernel, strides, pads, y);
        }
        p.kernel.offer(y);
        return dataType == DataType.FLOAT ? y : workspaceMgr.castTo(ArrayType.ACTIVATIONS, dataType, y, false);
    }

    /** DL4J's output shape: {@code [n, c]} for a collapsing global pooling, the input's layout otherwise. */
    private static long[] outputShape(PoolingGeometry g, long n, long c, int[] out, int inputRank) {
        if (g.global() && g.collapse()) {
            return new long[] {n, c};
        }
        if (inputRank == 3) {
            return g.channelsLast() ? new long[] {n, out[0], c} : new long[] {n, c, out[0]};
        }
        return g.channelsLast() ? new long[] {n, out[0], out[1], c} : new long[] {n, c, out[0], out[1]};
    }

    private static void rejectNaN(INDArray x, String name) {
        float[] v = x.data().asFloat();
        for (int i = 0; i < v.length; i++) {
            if (Float.isNaN(v[i])) {
                throw QuantMath.nanError(name + " input", i);
            }
        }
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArray(INDArray mask, MaskState currentMaskState,
                                                          int minibatchSize) {
        return prepared().floatLayer().feedForwardMaskArray(mask, currentMaskState, minibatchSize);
    }

    private Prepared prepared() {
        boolean useKernel = Int8Gemms.fusedLinearEnabled();
        Prepared p = prepared;
        if (p == null || p.usesKernel != useKernel) {
            p = new Prepared(layerConf(), useKernel, dataType);
            prepared = p;
        }
        return p;
    }

    /** The immutable per-layer state: the geometry, the kernel, and the float layer it falls back to. */
    private static final class Prepared {
        final String name;
        final PoolingGeometry geometry;
        final QParams qparams;
        final boolean usesKernel;
        final DnnlInt8Pooling kernel;
        private final QuantizedPooling conf;
        private final DataType dataType;
        private volatile org.deeplearning4j.nn.api.Layer floatLayer;

        Prepared(QuantizedPooling c, boolean useKernel, DataType dataType) {
            this.conf = c;
            this.dataType = dataType;
            this.name = "QuantizedPooling '" + c.getLayerName() + "'";
            this.geometry = PoolingGeometry.of(c.getPooling());
            this.qparams = c.qparams();
            this.usesKernel = useKernel;
            DnnlInt8Pooling.Kind kind = geometry.max() ? DnnlInt8Pooling.Kind.MAX
                    : geometry.averageCountsPadding() ? DnnlInt8Pooling.Kind.AVG_INCLUDE_PADDING
                    : DnnlInt8Pooling.Kind.AVG_EXCLUDE_PADDING;
            this.kernel = useKernel ? new DnnlInt8Pooling(kind, qparams.scale(), qparams.zeroPoint(),
                    c.isHandsOverOutput()) : null;
        }

        /** DL4J's float pooling of the input, then quantize-dequantize with the shared qparams. */
        INDArray floatPooling(INDArray input, INDArray mask, LayerWorkspaceMgr workspaceMgr) {
            org.deeplearning4j.nn.api.Layer f = floatLayer();
            INDArray y;
            synchronized (f) {
                f.setInput(input, LayerWorkspaceMgr.noWorkspaces());
                f.setMaskArray(mask);
                y = f.activate(false, LayerWorkspaceMgr.noWorkspaces());
            }
            INDArray q = QuantOps.fakeQuantize(y, qparams);
            return workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, y.dataType(), y.shape(), 'c').assign(q);
        }

        org.deeplearning4j.nn.api.Layer floatLayer() {
            org.deeplearning4j.nn.api.Layer f = floatLayer;
            if (f == null) {
                synchronized (this) {
                    if (floatLayer == null) {
                        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(dataType)
                                .layer(conf.getPooling().clone()).build();
                        floatLayer = nnc.getLayer().instantiate(nnc, List.of(), 0, null, false,
                                dataType);
                    }
                    f = floatLayer;
                }
            }
            return f;
        }
    }
}
