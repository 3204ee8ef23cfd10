package io.github.dl4jquant.nn.quantized;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.qconfig.QConfigs;
import java.io.File;
import java.nio.file.Path;
import java.util.Locale;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 16's size target: a classifier with a 50,000 x 128 EmbeddingSequenceLayer (DL4J's default initialisation)
 * saved with ModelSerializer is at most 0.30x its fp32 file with 8-bit rows ({@code quantizeDynamic}) and 0.17x with
 * 4-bit rows, and the restored models give the same outputs bit for bit.
 */
class EmbeddingModelSizeTest {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddingModelSizeTest.class);

    @Test
    void int8RowsSaveAtMost030xAnd4bitRowsAtMost017xOfFp32(@TempDir Path dir) throws Exception {
        ComputationGraph fp32 = classifier();
        ComputationGraph int8 = Quantizer.quantizeDynamic(fp32);
        ComputationGraph int4 = Quantizer.convert(Quantizer.prepare(fp32, QConfigs.getDefaultDynamicQConfigMapping("x86")
                .setObjectType(EmbeddingSequenceLayer.class, QConfigs.getFloatQParamsWeightOnlyQConfig4bit()),
                BackendConfigs.getX86BackendConfig()));
        long fp32Bytes = save(fp32, dir.resolve("fp32.zip").toFile());
        double int8Ratio = (double) save(int8, dir.resolve("int8.zip").toFile()) / fp32Bytes;
        double int4Ratio = (double) save(int4, dir.resolve("int4.zip").toFile()) / fp32Bytes;
        LOG.info("50,000 x 128 embedding classifier: fp32 {} bytes, int8 rows {}x, 4-bit rows {}x", fp32Bytes,
                String.format(Locale.ROOT, "%.3f", int8Ratio), String.format(Locale.ROOT, "%.3f", int4Ratio));
        assertTrue(int8Ratio <= 0.30, "int8 rows: " + int8Ratio + "x of fp32");
        assertTrue(int4Ratio <= 0.17, "4-bit rows: " + int4Ratio + "x of fp32");

        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.FLOAT, 8, 20).muli(50_000).castTo(DataType.INT).castTo(DataType.FLOAT);
        for (String name : new String[] {"int8", "int4"}) {
            ComputationGraph saved = name.equals("int8") ? int8 : int4;
            ComputationGraph back = ModelSerializer.restoreComputationGraph(dir.resolve(name + ".zip").toFile());
            assertArrayEquals(saved.outputSingle(x).data().asFloat(), back.outputSingle(x).data().asFloat(), name);
        }
    }

    private static ComputationGraph classifier() {
        ComputationGraph g = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(16)
                .dataType(DataType.FLOAT).graphBuilder().addInputs("in")
                .addLayer("emb", new EmbeddingSequenceLayer.Builder().nIn(50_000).nOut(128).inputLength(20)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "emb")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(128).nOut(10)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build());
        g.init();
        return g;
    }

    private static long save(ComputationGraph g, File f) throws Exception {
        ModelSerializer.writeModel(g, f, false);
        return f.length();
    }
}
