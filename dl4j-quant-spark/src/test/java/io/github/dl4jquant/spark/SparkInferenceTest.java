package io.github.dl4jquant.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.data.FashionMnist;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import scala.Tuple2;

class SparkInferenceTest {
    private static final int PARTITIONS = 8;
    /** 250 rows per partition: three full batches of 64 and a partial one of 58. */
    private static final int BATCH = 64;
    private static final FashionFixture F = FashionFixture.get();
    private static final JavaSparkContext SC = SparkTestContext.sc();

    private static float[][] singleJvmOutputs() {
        return F.int8.outputSingle(F.test.getFeatures()).toFloatMatrix();
    }

    @Test
    void distributedScoringIsBitIdenticalToSingleJvmOutputAndReusesOneModelPerTaskSlot() {
        float[][] expected = singleJvmOutputs();
        float[][] x = F.test.getFeatures().toFloatMatrix();
        List<Tuple2<Long, float[]>> rows = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            rows.add(new Tuple2<>((long) i, x[i]));
        }
        try (SparkInference inference = SparkInference.of(SC, F.int8, BATCH)) {
            long modelsBefore = ExecutorModels.created();
            JavaPairRDD<Long, float[]> scored = inference.output(SC.parallelizePairs(rows, PARTITIONS));
            assertEquals(PARTITIONS, scored.getNumPartitions());
            Map<Long, float[]> byKey = scored.collectAsMap();
            assertEquals(expected.length, byKey.size());
            for (int i = 0; i < expected.length; i++) {
                assertArrayEquals(expected[i], byKey.get((long) i), "row " + i);
            }
            long models = ExecutorModels.created() - modelsBefore;
            assertTrue(models >= 1 && models <= 2, "8 partitions on 2 task threads built " + models + " model(s)");
            assertTrue(inference.broadcastBytes() > 100_000 && inference.broadcastBytes() < 400_000,
                    "the int8 model's bytes: " + inference.broadcastBytes());
        }
    }

    @Test
    void aDataFrameGetsAnOutputColumnAndKeepsItsOwn() {
        float[][] expected = singleJvmOutputs();
        try (SparkInference inference = SparkInference.of(SC, F.int8, BATCH)) {
            Dataset<Row> df = SparkFrames.features(F.test, PARTITIONS);
            Dataset<Row> scored = inference.transform(df, "features", "probabilities");
            assertEquals(List.of("id", "label", "features", "probabilities"), List.of(scored.columns()));
            int[] labels = F.test.getLabels().argMax(1).toIntVector();
            for (Row r : scored.select("id", "label", "probabilities").collectAsList()) {
                int id = (int) r.getLong(0);
                assertEquals(labels[id], r.getInt(1));
                List<Float> p = r.getList(2);
                float[] got = new float[p.size()];
                for (int i = 0; i < got.length; i++) {
                    got[i] = p.get(i);
                }
                assertArrayEquals(expected[id], got, "row " + id);
            }
            IllegalArgumentException taken = assertThrows(IllegalArgumentException.class,
                    () -> inference.transform(df, "features", "label"));
            assertTrue(taken.getMessage().contains("already has a column 'label'"), taken.getMessage());
        }
    }

    @Test
    void distributedEvaluationEqualsSingleJvmEvaluation() {
        Evaluation single = F.int8.evaluate(FashionMnist.iterator(F.test, 100));
        try (SparkInference inference = SparkInference.of(SC, F.int8, BATCH)) {
            EvaluationRun fromDataSets = inference.evaluate(SC.parallelize(FashionFixture.chunks(F.test, 100),
                    PARTITIONS));
            EvaluationRun fromRows = inference.evaluate(SparkFrames.features(F.test, PARTITIONS), "features",
                    "label");
            for (EvaluationRun run : List.of(fromDataSets, fromRows)) {
                Evaluation e = run.evaluation();
                assertEquals(PARTITIONS, run.partitions());
                assertEquals(F.test.numExamples(), e.getNumRowCounter());
                assertEquals(single.accuracy(), e.accuracy(), 0.0);
                assertEquals(single.f1(), e.f1(), 0.0);
                assertEquals(single.confusionMatrix(), e.confusionMatrix());
                assertEquals(single.stats(), e.stats());
                assertTrue(run.stateBytesPerPartition() < 20_000, run.toString());
            }
            assertTrue(single.accuracy() > 0.7, "a trained model: " + single.accuracy());
        }
    }

    @Test
    void aModelWithTwoOutputsIsRefused() {
        ComputationGraph twoHeads = new ComputationGraph(new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("d", new DenseLayer.Builder().nIn(4).nOut(4).build(), "in")
                .addLayer("a", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(4).nOut(2)
                        .activation(Activation.IDENTITY).build(), "d")
                .addLayer("b", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(4).nOut(2)
                        .activation(Activation.IDENTITY).build(), "d")
                .setOutputs("a", "b").build());
        twoHeads.init();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SparkInference.of(SC, twoHeads, 8));
        assertTrue(e.getMessage().contains("1 input(s) and 2 output(s)"), e.getMessage());
    }
}
