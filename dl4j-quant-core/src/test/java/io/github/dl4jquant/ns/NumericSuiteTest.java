package io.github.dl4jquant.ns;

import io.github.dl4jquant.testing.TestModels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.graph.ReportEntry;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.TestDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class NumericSuiteTest {
    private static final Logger log = LoggerFactory.getLogger(NumericSuiteTest.class);
    private static final INDArray CALIB = TestModels.randomBatch(1, 512, 12);
    private static final INDArray DATA = TestModels.randomBatch(2, 256, 12);

    private static PreparedModel prepared(ComputationGraph g) {
        return Quantizer.prepare(g, QConfigs.getDefaultQConfigMapping("onednn"), BackendConfigs.getOnednnBackendConfig())
                .calibrate(CALIB);
    }

    @Test
    void weightSqnrOfAFoldedConvolutionComparesWithTheFoldedFloatWeight() {
        ComputationGraph g = TestModels.convBatchNormRelu();
        INDArray images = TestModels.randomBatch(3, 64, 36);
        PreparedModel p = Quantizer.prepare(g, QConfigs.getDefaultQConfigMapping("onednn"),
                BackendConfigs.getOnednnBackendConfig()).calibrate(images);
        NumericSuiteReport r = NumericSuite.compare(p, Quantizer.convert(p), images);
        VertexComparison conv = r.row("conv");
        assertEquals(List.of("conv", "bn", "relu"), conv.fp32Vertices());
        // per-channel 8-bit symmetric weights: about 6 dB per bit on the weights' own spread, far above the 2 dB
        // that comparing the folded int8 weight with the unfolded float one would give
        assertTrue(conv.weight().sqnr() > 35, "folded conv weight SQNR " + conv.weight().sqnr());
        INDArray folded = p.observedWeight("conv");
        assertEquals(sqnr(folded, QuantOps.fakeQuantize(folded, p.report().entry("conv").weightQParams())),
                conv.weightSqnr(), 0.05, "the int8 weight is the folded weight's quantize-dequantize");
    }

    @Test
    void everyQuantizedVertexHasARowWithSensibleValues() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = prepared(g);
        NumericSuiteReport r = NumericSuite.compare(p, Quantizer.convertToReference(p), DATA);
        log.info("\n{}", r);
        assertEquals(Set.of("d1", "d2", "out"), r.rows().stream().map(VertexComparison::vertex)
                .collect(Collectors.toSet()));
        assertEquals(256, r.examples());
        VertexComparison d2 = r.row("d2");
        assertEquals(List.of("d2", "act"), d2.fp32Vertices(), "the fused ActivationLayer belongs to d2's row");
        assertEquals("act", d2.fp32Tensor(), "a fused pattern is compared at its output vertex");
        assertEquals("d2", d2.quantizedTensor());
        assertEquals(d2, r.row("act"), "rows can be found by any fp32 vertex of the pattern");
        for (VertexComparison row : r.rows()) {
            for (TensorComparison c : List.of(row.weight(), row.alone(), row.propagated())) {
                assertTrue(c.sqnr() > 15 && c.sqnr() < 80, row.vertex() + ": SQNR " + c.sqnr());
                assertTrue(c.cosineSimilarity() > 0.99 && c.cosineSimilarity() <= 1 + 1e-9, row + "");
                assertTrue(c.normalizedL2() > 0 && c.normalizedL2() < 0.2, row + "");
                assertTrue(c.maxAbsError() > 0 && Double.isFinite(c.maxAbsError()), row + "");
            }
            // 8-bit output grid plus the layer's own input and weight error: above pure rounding (0.289), not far
            assertTrue(row.alone().rmseOverScale() > 0.2 && row.alone().rmseOverScale() < 3, row + "");
            assertTrue(row.propagated().sqnr() <= row.alone().sqnr() + 1, "propagated error is not much smaller "
                    + "than the layer's own: " + row);
        }
        assertEquals(p.report().entry("out").outputQParams().scale(), r.row("out").outputScale(), 0);
        for (int i = 1; i < r.rows().size(); i++) {
            assertTrue(r.rows().get(i - 1).alone().sqnr() <= r.rows().get(i).alone().sqnr(), "worst first: " + r);
        }
    }

    @Test
    void firstLayerAloneEqualsEndToEndAndMatchesIndependentMath() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = prepared(g);
        NumericSuiteReport r = NumericSuite.compare(p, Quantizer.convertToReference(p), DATA);
        VertexComparison d1 = r.row("d1");
        assertEquals(d1.alone(), d1.propagated(), "d1 reads the network input in both modes");

        // d2 + act alone, by hand: qdq_out(relu(qdq_in(x) . qdq_w(W) + b)) on the fp32 model's d1 activations
        ReportEntry e = p.report().entry("d2");
        INDArray x = g.feedForward(DATA, false).get("d1");
        INDArray w = g.getLayer("d2").getParam("W");
        INDArray b = g.getLayer("d2").getParam("b");
        INDArray pre = QuantOps.fakeQuantize(x, e.inputQParams()).mmul(QuantOps.fakeQuantize(w, e.weightQParams()))
                .addRowVector(b);
        INDArray expected = QuantOps.fakeQuantize(Transforms.relu(pre, true), e.outputQParams());
        INDArray fp32 = g.feedForward(DATA, false).get("act");
        assertEquals(sqnr(fp32, expected), r.row("d2").alone().sqnr(), 1e-3);
        assertEquals(sqnr(w, QuantOps.fakeQuantize(w, e.weightQParams())), r.row("d2").weightSqnr(), 1e-3);
        assertEquals(e.outputQParams().scale(), r.row("d2").outputScale(), 0);
    }

    private static double sqnr(INDArray x, INDArray y) {
        float[] a = x.dup('c').data().asFloat();
        float[] q = y.castTo(DataType.FLOAT).dup('c').data().asFloat();
        double signal = 0;
        double noise = 0;
        for (int i = 0; i < a.length; i++) {
            signal += (double) a[i] * a[i];
            noise += ((double) a[i] - q[i]) * ((double) a[i] - q[i]);
        }
        return 10 * Math.log10(signal / noise);
    }

    @Test
    void withoutTheReportTheReferenceLayersSupplyTheQParams() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = prepared(g);
        ComputationGraph ref = Quantizer.convertToReference(p);
        NumericSuiteReport withReport = NumericSuite.compare(p, ref, DATA);
        NumericSuiteReport without = NumericSuite.compare(g, ref, DATA);
        assertEquals(withReport.rows(), without.rows());
    }

    @Test
    void int8ModelIsComparedWithItsStoredWeights() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = prepared(g);
        NumericSuiteReport ref = NumericSuite.compare(p, Quantizer.convertToReference(p), DATA);
        NumericSuiteReport int8 = NumericSuite.compare(g, Quantizer.convert(p), DATA);
        log.info("\n{}", int8);
        for (VertexComparison row : int8.rows()) {
            assertTrue(row.module().contains("QuantizedDense"), row.module());
            assertEquals(ref.row(row.vertex()).weightSqnr(), row.weightSqnr(), 1e-3, row.vertex());
            assertEquals(ref.row(row.vertex()).alone().sqnr(), row.alone().sqnr(), 0.5, row.vertex());
            assertEquals(ref.row(row.vertex()).outputScale(), row.outputScale(), 0, row.vertex());
        }
    }

    @Test
    void streamingOverBatchesGivesTheSameNumbersAsOneBatch() {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = prepared(g);
        ComputationGraph ref = Quantizer.convertToReference(p);
        NumericSuiteReport whole = NumericSuite.compare(p, ref, DATA);
        DataSetIterator batches = new TestDataSetIterator(new DataSet(DATA, Nd4j.zeros(256, 5)), 50);
        NumericSuiteReport streamed = NumericSuite.compare(g, ref, p.report(), batches);
        assertEquals(256, streamed.examples());
        for (VertexComparison row : whole.rows()) {
            VertexComparison s = streamed.row(row.vertex());
            assertEquals(row.alone().sqnr(), s.alone().sqnr(), 1e-4, row.vertex());
            assertEquals(row.propagated().sqnr(), s.propagated().sqnr(), 1e-4, row.vertex());
            assertEquals(row.propagated().maxAbsError(), s.propagated().maxAbsError(), 1e-5, row.vertex());
            assertEquals(row.alone().count(), s.alone().count());
        }
    }

    @Test
    void reportsAreDeterministicAndSerialise() throws Exception {
        ComputationGraph g = TestModels.mlp();
        PreparedModel p = prepared(g);
        ComputationGraph ref = Quantizer.convertToReference(p);
        NumericSuiteReport a = NumericSuite.compare(p, ref, DATA);
        NumericSuiteReport b = NumericSuite.compare(p, ref, DATA);
        assertEquals(a.rows(), b.rows());
        JsonNode json = new ObjectMapper().readTree(a.toJson());
        assertEquals(3, json.get("rows").size());
        assertEquals(a.rows().get(0).vertex(), json.get("rows").get(0).get("vertex").asText());
        assertEquals(a.rows().get(0).alone().sqnr(), json.get("rows").get(0).get("alone").get("sqnr_db").asDouble(),
                1e-12);
        assertEquals(List.of("d2", "act"), a.toMap().get("rows") instanceof List
                ? ((java.util.Map<?, ?>) ((List<?>) a.toMap().get("rows")).stream()
                        .filter(m -> ((java.util.Map<?, ?>) m).get("vertex").equals("d2")).findFirst().get())
                        .get("fp32_vertices") : null);
        String table = a.toString();
        assertTrue(table.contains("act ~ d2") && table.contains("SQNR alone"), table);
    }

    @Test
    void addedQuantDequantLayersAreComparedAgainstTheirVertex() {
        ComputationGraph g = TestModels.residual();
        PreparedModel p = prepared(g);
        ComputationGraph ref = Quantizer.convertToReference(p);
        NumericSuiteReport r = NumericSuite.compare(p, ref, DATA);
        log.info("\n{}\n{}", p.report(), r);
        VertexComparison add = r.row("add");
        assertEquals("add", add.fp32Tensor());
        assertEquals("add_qdq", add.quantizedTensor());
        assertNull(add.weight(), "an add has no weight");
        assertTrue(add.alone().sqnr() > 25, add.toString());
        // alone, the add sees exact fp32 inputs, so its only error is its own output rounding
        assertEquals(1 / Math.sqrt(12), add.alone().rmseOverScale(), 0.05);
        assertNotNull(r.row("a").weight());
    }

    @Test
    void multiLayerNetworksAreReportedWithTheirLayerNames() {
        PreparedModel p = Quantizer.prepare(TestModels.multiLayer(), QConfigs.getDefaultQConfigMapping("onednn"),
                BackendConfigs.getOnednnBackendConfig()).calibrate(CALIB);
        NumericSuiteReport r = NumericSuite.compare(p, Quantizer.convertToReference(p), DATA);
        assertEquals(Set.of("hidden", "classifier"), r.rows().stream().map(VertexComparison::displayName)
                .collect(Collectors.toSet()));
        assertEquals("0", r.row("hidden").vertex());
        assertTrue(r.toString().contains("classifier"), r.toString());
    }

    @Test
    void badInputIsRejected() {
        ComputationGraph g = TestModels.mlp();
        IllegalArgumentException same = assertThrows(IllegalArgumentException.class,
                () -> NumericSuite.compare(g, g, DATA));
        assertTrue(same.getMessage().contains("nothing to compare"), same.getMessage());
        PreparedModel p = prepared(g);
        ComputationGraph ref = Quantizer.convertToReference(p);
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> NumericSuite.compare(p, ref, null));
        assertTrue(empty.getMessage().contains("at least one example"), empty.getMessage());
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                () -> NumericSuite.compare(TestModels.residual(), ref, DATA));
        assertTrue(other.getMessage().contains("nothing to compare") || other.getMessage().contains("differ"),
                other.getMessage());
    }
}
