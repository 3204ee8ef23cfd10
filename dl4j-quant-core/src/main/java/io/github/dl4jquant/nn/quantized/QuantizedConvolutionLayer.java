package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.DenseArrays;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.kernel.DnnlInt8Convolution;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.nn.ConvolutionGeometry;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.QuantMath;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution1D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedConvolution2D;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDepthwiseConvolution2D;
import java.util.List;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The runtime layer of {@link QuantizedConvolution}: {@link DnnlInt8Convolution} on DL4J's input, which it views as
 * 4-D (1-D convolutions: {@code [n, c, length, 1]}), with the padding DL4J computes for the input size
 * ({@link ConvolutionGeometry}). Where oneDNN's primitives are not available (or {@code -Ddl4jquant.kernel} turns
 * them off) it computes the same numbers as the reference convolution on the dequantized int8 weights, with DL4J's
 * own float convolution. A 1-D convolution applies its input mask as DL4J's Convolution1DLayer does. Inference only.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);    // runs QuantizedConvolutionLayer.activate for the int8 vertex
 * }</pre>
 *
 * <p>NaN inputs are rejected with an {@link IllegalArgumentException} naming the layer and the element; infinities
 * saturate to the quantized range, as in PyTorch.
 */
public class QuantizedConvolutionLayer extends Int8Layer<QuantizedConvolution> {
    private volatile Prepared prepared;

    public QuantizedConvolutionLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected INDArray forward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        Prepared p = prepared();
        if (training) {
            throw Int8Layer.inferenceOnly(p.name);
        }
        if (p.kernel == null) {
            return p.reference(input, maskArray, workspaceMgr);
        }
        ConvolutionGeometry g = p.geometry;
        INDArray x = contiguousFloat(input);
        INDArray x4 = g.oneDimensional() ? as4d(x, g.channelsLast()) : x;
        checkInput(x4, p);
        long[] s = x4.shape();
        int h = (int) (g.channelsLast() ? s[1] : s[2]);
        int w = (int) (g.channelsLast() ? s[2] : s[3]);
        int[] pads = g.pads(h, w);
        long[] outShape = p.kernel.outputShape(s, g.channelsLast(), pads);
        INDArray y4 = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, outShape, 'c');
        if (!p.kernel.forward(input, x4, g.channelsLast(), pads, y4)) {
            rejectNaN(x, p.name);
            p.kernel.forwardNanFree(input, x4, g.channelsLast(), pads, y4);
        }
        INDArray y = g.oneDimensional() ? as3d(y4, g.channelsLast()) : y4;
        if (g.oneDimensional() && maskArray != null) {
            applyMask(y, p);
        } else {
            p.kernel.offer(y);
        }
        return dataType == DataType.FLOAT ? y : workspaceMgr.castTo(ArrayType.ACTIVATIONS, dataType, y, false);
    }

    private static INDArray contiguousFloat(INDArray in) {
        INDArray x = in.dataType() == DataType.FLOAT ? in : in.castTo(DataType.FLOAT);
        return DenseArrays.denseC(x);
    }

    /** {@code [n, c, l]} as {@code [n, c, l, 1]}, or NWC {@code [n, l, c]} as {@code [n, l, 1, c]}. */
    private static INDArray as4d(INDArray x, boolean channelsLast) {
        if (x.rank() != 3) {
            return x;   // checkInput names the problem
        }
        long[] s = x.shape();
        return channelsLast ? x.reshape('c', s[0], s[1], 1, s[2]) : x.reshape('c', s[0], s[1], s[2], 1);
    }

    private static INDArray as3d(INDArray y4, boolean channelsLast) {
        long[] s = y4.shape();
        return channelsLast ? y4.reshape('c', s[0], s[1], s[3]) : y4.reshape('c', s[0], s[1], s[2]);
    }

    private void checkInput(INDArray x4, Prepared p) {
        int channelAxis = p.geometry.channelsLast() ? 3 : 1;
        if (x4.rank() != 4 || x4.size(channelAxis) != p.geometry.spec().inChannels()) {
            String expected = p.geometry.oneDimensional()
                    ? (p.geometry.channelsLast() ? "[batch, length, " : "[batch, ") + p.geometry.spec().inChannels()
                    + (p.geometry.channelsLast() ? "]" : ", length]")
                    : (p.geometry.channelsLast() ? "[batch, height, width, " + p.geometry.spec().inChannels() + "]"
                    : "[batch, " + p.geometry.spec().inChannels() + ", height, width]");
            throw new IllegalArgumentException(p.name + " expects input " + expected + "; got shape "
                    + java.util.Arrays.toString(input.shape()) + ". Check the data format (NCHW/NHWC) and the "
                    + "channels of the preceding layer");
        }
    }

    private static void rejectNaN(INDArray x, String name) {
        float[] v = x.data().asFloat();
        for (int i = 0; i < v.length; i++) {
            if (Float.isNaN(v[i])) {
                throw QuantMath.nanError(name + " input", i);
            }
        }
    }

    /** As DL4J's Convolution1DLayer: the mask, reduced to the output length, zeroes masked time steps. */
    private void applyMask(INDArray y, Prepared p) {
        INDArray reduced = feedForwardMaskArray(maskArray, MaskState.Active, (int) y.size(0)).getFirst();
        Broadcast.mul(y, reduced.castTo(y.dataType()), y, 0, p.geometry.channelsLast() ? 1 : 2);
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArray(INDArray mask, MaskState currentMaskState,
                                                          int minibatchSize) {
        ConvolutionLayer c = layerConf().getConvolution();
        if (!(c instanceof Convolution1DLayer) || mask == null) {
            return super.feedForwardMaskArray(mask, currentMaskState, minibatchSize);
        }
        INDArray reduced = ConvolutionUtils.cnn1dMaskReduction(mask, c.getKernelSize()[0], c.getStride()[0],
                c.getPadding()[0], c.getDilation()[0], c.getConvolutionMode());
        return new Pair<>(reduced, currentMaskState);
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

    /** The immutable per-layer state: the geometry and the kernel, or the reference layer it falls back to. */
    private static final class Prepared {
        final String name;
        final ConvolutionGeometry geometry;
        final boolean usesKernel;
        final DnnlInt8Convolution kernel;
        private final QuantizedConvolution conf;
        private final DataType dataType;
        private volatile org.deeplearning4j.nn.api.Layer reference;

        Prepared(QuantizedConvolution c, boolean useKernel, DataType dataType) {
            c.validate();
            this.conf = c;
            this.dataType = dataType;
            this.name = "QuantizedConvolution '" + c.getLayerName() + "'";
            this.geometry = ConvolutionGeometry.of(c.getConvolution());
            this.usesKernel = useKernel;
            QParams in = c.getQuantization().input();
            QParams out = c.getQuantization().output();
            this.kernel = useKernel ? new DnnlInt8Convolution(geometry.spec(), c.getWeightInt8(), c.weightScales(),
                    c.getBias(), c.getConvolution().getActivationFn(), new DnnlInt8Convolution.QuantizedIO(in.scale(),
                    in.zeroPoint(), out == null ? 0f : out.scale(), out == null ? 0 : out.zeroPoint()),
                    c.isHandsOverOutput()) : null;
        }

        /** The reference convolution on the dequantized int8 weights: the same numbers, in DL4J's float code. */
        INDArray reference(INDArray input, INDArray mask, LayerWorkspaceMgr workspaceMgr) {
            org.deeplearning4j.nn.api.Layer r = referenceLayer();
            INDArray y;
            synchronized (r) {
                r.setInput(input, LayerWorkspaceMgr.noWorkspaces());
                r.setMaskArray(mask);
                y = r.activate(false, LayerWorkspaceMgr.noWorkspaces());
            }
            return workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, y.dataType(), y.shape(), 'c').assign(y);
        }

        private org.deeplearning4j.nn.api.Layer referenceLayer() {
            org.deeplearning4j.nn.api.Layer r = reference;
            if (r == null) {
                synchronized (this) {
                    if (reference == null) {
                        reference = buildReference();
                    }
                    r = reference;
                }
            }
            return r;
        }

        private org.deeplearning4j.nn.api.Layer buildReference() {
            ConvolutionLayer f = conf.getConvolution();
            ConvolutionLayer ref = f instanceof DepthwiseConvolution2D d
                    ? ReferenceQuantizedDepthwiseConvolution2D.fromFloat(d, conf.getQuantization())
                    : f instanceof Convolution1DLayer c1 ? ReferenceQuantizedConvolution1D.fromFloat(c1,
                    conf.getQuantization()) : ReferenceQuantizedConvolution2D.fromFloat(f, conf.getQuantization());
            ref.setHasBias(conf.getBias() != null);
            NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(dataType).layer(ref).build();
            long n = ref.initializer().numParams(nnc);
            INDArray view = Nd4j.create(dataType, 1, n);
            org.deeplearning4j.nn.api.Layer layer = ref.instantiate(nnc, List.of(), 0, view, false, dataType);
            layer.setParam("W", conf.dequantizedWeight().castTo(dataType));
            if (conf.getBias() != null) {
                layer.setParam("b", Nd4j.createFromArray(conf.getBias()).reshape(1, conf.getBias().length)
                        .castTo(dataType));
            }
            return layer;
        }
    }
}
