package io.github.dl4jquant.nn;

import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Folding an inference-mode batch norm into the layer before it, as PyTorch's {@code torch.nn.utils.fusion}
 * ({@code fuse_conv_bn_eval}, {@code fuse_linear_bn_eval}), in the same float32 order of operations:
 * <pre>
 *   r  = 1 / sqrt(running_var + eps)
 *   W' = W * (gamma * r)                per output channel
 *   b' = (b - running_mean) * r * gamma + beta
 * </pre>
 * DL4J keeps the variance as {@code log10(stdev)} by default ({@code useLogStd}); both forms are read, and
 * {@code lockGammaBeta} layers use their fixed gamma and beta.
 *
 * <pre>{@code
 * Map<String, INDArray> folded = Fusion.foldBatchNorm(convConf, convParams, bnConf, bnParams);
 * // folded.get("W"), folded.get("b"): bn(conv(x)) == conv'(x) within float rounding
 * }</pre>
 */
public final class Fusion {
    private Fusion() {
    }

    /**
     * The parameters of {@code weighted} with {@code bn} folded in: new arrays ({@code "W"} and {@code "b"}, a bias
     * even when the layer had none); the inputs are not changed.
     *
     * @param weighted a DenseLayer, ConvolutionLayer, Convolution1DLayer or DepthwiseConvolution2D configuration
     * @throws IllegalArgumentException naming both layers when the channel counts differ or a layer is unsupported
     */
    public static Map<String, INDArray> foldBatchNorm(Layer weighted, Map<String, INDArray> params,
                                                      BatchNormalization bn, Map<String, INDArray> bnParams) {
        INDArray w = params.get("W");
        if (w == null) {
            throw new IllegalArgumentException("Cannot fold batch norm '" + bn.getLayerName() + "' into '"
                    + weighted.getLayerName() + "': it has no weight parameter 'W'");
        }
        float[] weight = floats(w);
        int channels = (int) bn.getNOut();
        int axisLength = outputChannels(weighted, w);
        if (axisLength != channels) {
            throw new IllegalArgumentException("Cannot fold batch norm '" + bn.getLayerName() + "' (" + channels
                    + " channels) into '" + weighted.getLayerName() + "' (" + axisLength + " output channels): the "
                    + "counts must match");
        }
        float[] gamma = gammaOf(bn, bnParams, channels);
        float[] beta = betaOf(bn, bnParams, channels);
        float[] mean = floats(bnParams.get(BatchNormalizationParamInitializer.GLOBAL_MEAN));
        float[] rsqrt = inverseStd(bn, bnParams);
        float[] bias = params.containsKey("b") ? floats(params.get("b")) : new float[channels];
        int stride = innerStride(weighted, w);
        for (int i = 0; i < weight.length; i++) {
            int c = stride == 0 ? i % channels : i / stride;
            weight[i] = weight[i] * (gamma[c] * rsqrt[c]);
        }
        for (int c = 0; c < channels; c++) {
            bias[c] = (bias[c] - mean[c]) * rsqrt[c] * gamma[c] + beta[c];
        }
        Map<String, INDArray> out = new LinkedHashMap<>();
        out.put("W", Nd4j.createFromArray(weight).reshape('c', w.shape()));
        out.put("b", Nd4j.createFromArray(bias).reshape(1, channels));
        return out;
    }

    /** {@code 1 / sqrt(var + eps)} per channel, from the variance or DL4J's {@code log10(stdev)}. */
    static float[] inverseStd(BatchNormalization bn, Map<String, INDArray> bnParams) {
        float[] var;
        if (bn.isUseLogStd()) {
            float[] log10Std = floats(bnParams.get(BatchNormalizationParamInitializer.GLOBAL_LOG_STD));
            var = new float[log10Std.length];
            for (int c = 0; c < var.length; c++) {
                float std = (float) Math.pow(10.0, log10Std[c]);
                var[c] = std * std;
            }
        } else {
            var = floats(bnParams.get(BatchNormalizationParamInitializer.GLOBAL_VAR));
        }
        float eps = (float) bn.getEps();
        float[] r = new float[var.length];
        for (int c = 0; c < r.length; c++) {
            r[c] = 1.0f / (float) Math.sqrt(var[c] + eps);
        }
        return r;
    }

    static float[] gammaOf(BatchNormalization bn, Map<String, INDArray> bnParams, int channels) {
        return bn.isLockGammaBeta() ? filled(channels, (float) bn.getGamma())
                : floats(bnParams.get(BatchNormalizationParamInitializer.GAMMA));
    }

    static float[] betaOf(BatchNormalization bn, Map<String, INDArray> bnParams, int channels) {
        return bn.isLockGammaBeta() ? filled(channels, (float) bn.getBeta())
                : floats(bnParams.get(BatchNormalizationParamInitializer.BETA));
    }

    /**
     * The per-channel affine map {@code y = x * scale + shift} an inference-mode batch norm computes:
     * {@code scale = gamma / sqrt(var + eps)}, {@code shift = beta - mean * scale}.
     */
    public static float[][] batchNormAffine(BatchNormalization bn, Map<String, INDArray> bnParams) {
        int channels = (int) bn.getNOut();
        float[] gamma = gammaOf(bn, bnParams, channels);
        float[] beta = betaOf(bn, bnParams, channels);
        float[] mean = floats(bnParams.get(BatchNormalizationParamInitializer.GLOBAL_MEAN));
        float[] rsqrt = inverseStd(bn, bnParams);
        float[] scale = new float[channels];
        float[] shift = new float[channels];
        for (int c = 0; c < channels; c++) {
            scale[c] = gamma[c] * rsqrt[c];
            shift[c] = beta[c] - mean[c] * scale[c];
        }
        return new float[][] {scale, shift};
    }

    /** The output channel count of the weight {@code w} of {@code layer}. */
    private static int outputChannels(Layer layer, INDArray w) {
        if (layer instanceof DenseLayer) {
            return (int) w.size(1);
        }
        if (layer instanceof DepthwiseConvolution2D) {
            return (int) (w.size(2) * w.size(3));
        }
        if (layer instanceof ConvolutionLayer || layer instanceof Convolution1DLayer) {
            return (int) w.size(0);
        }
        throw new IllegalArgumentException("Cannot fold a batch norm into " + layer.getClass().getSimpleName() + " '"
                + layer.getLayerName() + "'; accepted: DenseLayer, ConvolutionLayer, Convolution1DLayer, "
                + "DepthwiseConvolution2D");
    }

    /**
     * How many consecutive elements of the 'c'-order weight share one output channel (conv: in * kH * kW), or, for
     * layers whose output channel varies fastest (dense [in, out], depthwise [kH, kW, in, mult], and
     * Convolution1DLayer, whose forward pass reads its [out, in, k, 1] memory as [k, in, out]), 0.
     */
    private static int innerStride(Layer layer, INDArray w) {
        if (layer instanceof DenseLayer || layer instanceof DepthwiseConvolution2D
                || layer instanceof Convolution1DLayer) {
            return 0;
        }
        return (int) (w.length() / w.size(0));
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    private static float[] floats(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }
}
