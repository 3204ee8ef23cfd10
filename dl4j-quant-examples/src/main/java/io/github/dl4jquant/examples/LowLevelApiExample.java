package io.github.dl4jquant.examples;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.Observer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The low-level API by hand: an observer computes qparams from data, {@code QuantOps} quantizes and dequantizes, and
 * a dense layer is computed from quantized input and weights, as a reference quantized layer does.
 *
 * <pre>{@code
 * mvn -B -q -pl dl4j-quant-examples -am -DskipTests -Prun package -Dexample=LowLevelApiExample
 * }</pre>
 */
public final class LowLevelApiExample {

    private LowLevelApiExample() {
    }

    public static void main(String[] args) {
        Nd4j.getRandom().setSeed(1);
        INDArray x = Nd4j.rand(DataType.FLOAT, 64, 32).muli(6).subi(1);      // activations in [-1, 5)
        INDArray w = Nd4j.randn(DataType.FLOAT, 32, 16).muli(0.2);           // weights [nIn, nOut]

        Observer activationObserver = MinMaxObserver.builder().dtype(QuantDType.QUINT8)
                .qscheme(QScheme.PER_TENSOR_AFFINE).build();
        activationObserver.observe(x);
        QParams xq = activationObserver.calculateQParams();
        Observer weightObserver = MinMaxObserver.builder().dtype(QuantDType.QINT8)
                .qscheme(QScheme.PER_TENSOR_SYMMETRIC).build();
        weightObserver.observe(w);
        QParams wq = weightObserver.calculateQParams();
        System.out.println("activation " + xq + "\nweight " + wq);

        INDArray xInt = QuantOps.quantize(x, xq);                           // UBYTE
        INDArray wInt = QuantOps.quantize(w, wq);                           // BYTE
        INDArray xBack = QuantOps.dequantize(xInt, xq);
        System.out.printf("round trip: max |x - dq(q(x))| = %.5f (half a step: %.5f)%n",
                Transforms.abs(x.sub(xBack)).maxNumber().doubleValue(), xq.scale() / 2);

        INDArray exact = x.mmul(w);
        INDArray quantized = xBack.mmul(QuantOps.dequantize(wInt, wq));
        System.out.printf("dense layer: max |x.w - dq(q(x)).dq(q(w))| = %.5f, output range %.3f%n",
                Transforms.abs(exact.sub(quantized)).maxNumber().doubleValue(),
                exact.maxNumber().doubleValue() - exact.minNumber().doubleValue());
        System.out.println("fake-quantized first row: " + QuantOps.fakeQuantize(x, xq).getRow(0));
    }
}
