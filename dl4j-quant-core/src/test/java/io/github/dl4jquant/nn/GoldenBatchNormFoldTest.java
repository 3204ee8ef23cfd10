package io.github.dl4jquant.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dl4jquant.testing.Golden;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@code conv_bn_fold.json}: PyTorch 1.13's {@code fuse_conv_bn_eval} and {@code fuse_linear_bn_eval} on a Conv2d(4, 6,
 * 3) + BatchNorm2d(6) and a Linear(8, 5) + BatchNorm1d(5). {@link Fusion#foldBatchNorm} gives the same folded weight
 * and bias within 1e-5 relative (DL4J's dense weight is PyTorch's transposed).
 */
class GoldenBatchNormFoldTest {
    private static final JsonNode GOLDEN = Golden.load("conv_bn_fold.json");

    @Test
    void convolutionFoldMatchesFuseConvBnEval() {
        JsonNode c = GOLDEN.get("conv_bn");
        ConvolutionLayer conv = new ConvolutionLayer.Builder(3, 3).nIn(4).nOut(6).name("conv").build();
        Map<String, INDArray> folded = Fusion.foldBatchNorm(conv, Map.of("W", Golden.tensor(c.get("conv").get("weight")),
                "b", Golden.tensor(c.get("conv").get("bias")).reshape(1, 6)), batchNorm(6, c), bnParams(c, 6));
        assertClose(Golden.tensor(c.get("folded_weight")), folded.get("W"), "conv weight");
        assertClose(Golden.tensor(c.get("folded_bias")).reshape(1, 6), folded.get("b").reshape(1, 6), "conv bias");
    }

    @Test
    void denseFoldMatchesFuseLinearBnEval() {
        JsonNode c = GOLDEN.get("linear_bn");
        DenseLayer dense = new DenseLayer.Builder().nIn(8).nOut(5).name("dense").build();
        Map<String, INDArray> folded = Fusion.foldBatchNorm(dense, Map.of("W",
                Golden.matrix(c.get("linear").get("weight")).transpose().dup(),
                "b", Golden.tensor(c.get("linear").get("bias")).reshape(1, 5)), batchNorm(5, c), bnParams(c, 5));
        assertClose(Golden.matrix(c.get("folded_weight")).transpose(), folded.get("W"), "dense weight");
        assertClose(Golden.tensor(c.get("folded_bias")).reshape(1, 5), folded.get("b").reshape(1, 5), "dense bias");
    }

    private static BatchNormalization batchNorm(int channels, JsonNode c) {
        return new BatchNormalization.Builder().nIn(channels).nOut(channels).eps(c.get("bn").get("eps").asDouble())
                .name("bn").build();
    }

    /** DL4J's parameters: log10 of sqrt(running_var); it adds eps itself. */
    private static Map<String, INDArray> bnParams(JsonNode c, int channels) {
        JsonNode bn = c.get("bn");
        INDArray var = Golden.tensor(bn.get("running_var")).reshape(1, channels);
        return Map.of(BatchNormalizationParamInitializer.GAMMA, Golden.tensor(bn.get("weight")).reshape(1, channels),
                BatchNormalizationParamInitializer.BETA, Golden.tensor(bn.get("bias")).reshape(1, channels),
                BatchNormalizationParamInitializer.GLOBAL_MEAN, Golden.tensor(bn.get("running_mean"))
                        .reshape(1, channels),
                BatchNormalizationParamInitializer.GLOBAL_LOG_STD, Transforms.log(Transforms.sqrt(var), 10.0));
    }

    private static void assertClose(INDArray expected, INDArray actual, String what) {
        double rel = expected.sub(actual.reshape(expected.shape())).amaxNumber().doubleValue()
                / expected.amaxNumber().doubleValue();
        assertTrue(rel < 1e-5, what + " differs from PyTorch's fold by " + rel + " (relative to its largest value)");
    }
}
