package io.github.dl4jquant.ns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.ConvertCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.qconfig.QConfig;
import io.github.dl4jquant.qconfig.QConfigMapping;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class BiasCorrectionTest {
    private static final Logger log = LoggerFactory.getLogger(BiasCorrectionTest.class);

    /** A dense layer with per-tensor int8 weights, one column 30x larger: the other columns are rounded coarsely. */
    private static ComputationGraph model() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT)
                .weightInit(WeightInit.XAVIER).graphBuilder()
                .addInputs("in")
                .addLayer("d1", new DenseLayer.Builder().nIn(64).nOut(32).activation(Activation.IDENTITY).build(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(32).nOut(4)
                        .activation(Activation.IDENTITY).build(), "d1")
                .setOutputs("out")
                .build());
        g.init();
        INDArray w = g.getLayer("d1").getParam("W");
        w.getColumn(0).muli(30);
        return g;
    }

    private static QConfigMapping perTensorWeights() {
        return new QConfigMapping().setGlobal(new QConfig(
                MinMaxObserver.builder().dtype(QuantDType.QUINT8).qscheme(QScheme.PER_TENSOR_AFFINE),
                MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC)));
    }

    /** Norm of the per-channel mean of (quantized - fp32) outputs of d1: the bias the correction removes. */
    private static double meanShift(ComputationGraph fp32, ComputationGraph q, INDArray x) {
        INDArray err = q.feedForward(x, false).get("d1").sub(fp32.feedForward(x, false).get("d1"));
        return err.mean(0).norm2Number().doubleValue();
    }

    @Test
    void correctionRemovesMostOfTheMeanOutputShift() {
        ComputationGraph g = model();
        Nd4j.getRandom().setSeed(11);
        INDArray calib = Nd4j.rand(DataType.FLOAT, 4096, 64);   // uniform [0, 1): inputs with a large mean
        INDArray test = Nd4j.rand(DataType.FLOAT, 4096, 64);
        PreparedModel p = Quantizer.prepare(g, perTensorWeights(), BackendConfigs.getOnednnBackendConfig())
                .calibrate(calib);
        BiasCorrection bc = BiasCorrection.measure(g, calib);
        ConvertCustomConfig custom = bc.register(new ConvertCustomConfig(), p.backendConfig());

        double plain = meanShift(g, Quantizer.convertToReference(p), test);
        ComputationGraph corrected = Quantizer.convertToReference(p, custom);
        double fixed = meanShift(g, corrected, test);
        double fixedInt8 = meanShift(g, Quantizer.convert(p, bc.register(new ConvertCustomConfig(), p.backendConfig())),
                test);
        log.info("Mean output shift of d1: plain {}, bias-corrected {} (int8 kernels {})", plain, fixed, fixedInt8);
        assertTrue(fixed < 0.25 * plain, "bias correction should remove most of the mean shift: " + plain + " -> "
                + fixed);
        assertTrue(fixedInt8 < 0.25 * plain, "also when lowered: " + plain + " -> " + fixedInt8);

        // b' = b + E[x] . (W - W_q), with E[x] over the calibration data
        INDArray w = g.getLayer("d1").getParam("W");
        INDArray wq = QuantOps.fakeQuantize(w, p.report().entry("d1").weightQParams());
        INDArray expected = g.getLayer("d1").getParam("b").add(calib.mean(0).reshape(1, 64).mmul(w.sub(wq)));
        assertEquals(0, expected.sub(corrected.getLayer("d1").getParam("b")).amaxNumber().doubleValue(), 1e-5);
        assertEquals(64, bc.inputMeans().get("d1").length());
        assertEquals(calib.mean(0).getDouble(5), bc.inputMeans().get("d1").getDouble(5), 1e-6);
    }

    @Test
    void emptyCalibrationIsRejected() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> BiasCorrection.measure(model()));
        assertTrue(e.getMessage().contains("at least one example"), e.getMessage());
    }
}
