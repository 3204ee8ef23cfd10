package io.github.dl4jquant.graph;

import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling1D;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.ZeroPadding1DLayer;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping1D;
import org.deeplearning4j.nn.conf.layers.convolutional.Cropping2D;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;

/**
 * Share-qparams ops whose every output value is one of their input values or zero, so that an input on the
 * quantization grid gives an output on the same grid: max pooling, padding (zero is always on the grid: it is the
 * zero point), cropping, nearest upsampling, dropout at inference, ReLU. PyTorch's reference model still
 * quantizes and dequantizes their outputs; that changes nothing for these, so the converter leaves it out. Average
 * pooling, ReLU6 and hard tanh do need it: a mean, or a clamp at 6, falls between grid points.
 *
 * <pre>{@code
 * GridPreservingOps.preservesGrid(maxPoolConf);   // true
 * GridPreservingOps.preservesGrid(avgPoolConf);   // false: the converter re-quantizes its output
 * }</pre>
 */
public final class GridPreservingOps {
    private GridPreservingOps() {
    }

    /** True when {@code conf} (a layer or vertex configuration) maps on-grid inputs to on-grid outputs. */
    public static boolean preservesGrid(Object conf) {
        if (conf instanceof SubsamplingLayer s) {
            return s.getPoolingType() == PoolingType.MAX;
        }
        if (conf instanceof GlobalPoolingLayer g) {
            return g.getPoolingType() == PoolingType.MAX;
        }
        if (conf instanceof ActivationLayer a) {
            return a.getActivationFn() instanceof ActivationIdentity || isPlainRelu(a);
        }
        return conf instanceof ZeroPaddingLayer || conf instanceof ZeroPadding1DLayer || conf instanceof Cropping2D
                || conf instanceof Cropping1D || conf instanceof Upsampling2D || conf instanceof Upsampling1D
                || conf instanceof DropoutLayer;
    }

    private static boolean isPlainRelu(ActivationLayer a) {
        return a.getActivationFn() != null && a.getActivationFn().equals(new ActivationReLU());
    }
}
