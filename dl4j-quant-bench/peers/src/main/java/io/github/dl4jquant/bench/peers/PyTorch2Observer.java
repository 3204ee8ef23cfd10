package io.github.dl4jquant.bench.peers;

import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.Tensor;

/**
 * An activation's quint8 qparams from its min and max, as PyTorch's {@code MinMaxObserver} (per-tensor affine)
 * computes them: the range is widened to include 0, scale = (max - min) / quant_max (at least float32's eps),
 * zero point = round(-min / scale) clamped to [0, quant_max]. quant_max is 127 with {@code reduce_range} (the
 * x86/fbgemm default qconfig) and 255 without (onednn's).
 */
final class PyTorch2Observer {
    private final int quantMax;
    private double min = Double.POSITIVE_INFINITY;
    private double max = Double.NEGATIVE_INFINITY;
    private double scale = Double.NaN;
    private long zeroPoint;
    private IValue scaleValue;
    private IValue zeroPointValue;

    PyTorch2Observer(int quantMax) {
        this.quantMax = quantMax;
    }

    /** Widens the range to {@code t}'s values; returns {@code t}. */
    Tensor observe(Tensor t) {
        min = Math.min(min, t.min().item_double());
        max = Math.max(max, t.max().item_double());
        double lo = Math.min(min, 0);
        double hi = Math.max(max, 0);
        scale = Math.max((hi - lo) / quantMax, PyTorch2Ops.FLOAT_EPS);
        zeroPoint = Math.max(0, Math.min(quantMax, Math.round(-lo / scale)));
        scaleValue = new IValue(scale);
        zeroPointValue = new IValue(zeroPoint);
        return t;
    }

    double scale() {
        checkObserved();
        return scale;
    }

    long zeroPoint() {
        checkObserved();
        return zeroPoint;
    }

    /** The scale as the boxed ops take it (a float IValue). */
    IValue scaleValue() {
        checkObserved();
        return scaleValue;
    }

    /** The zero point as the boxed ops take it (an int IValue). */
    IValue zeroPointValue() {
        checkObserved();
        return zeroPointValue;
    }

    private void checkObserved() {
        if (Double.isNaN(scale)) {
            throw new IllegalStateException("A quantized op ran before calibration observed its output's range: "
                    + "call PyTorch2Graph.calibrate first");
        }
    }
}
