package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.backendconfig.DTypeWithConstraintsTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationReLU;

class PatternTest {

    /** A user subclass: PyTorch matches type(module) exactly, so this must not match DenseLayer patterns. */
    static final class CustomDense extends DenseLayer {
    }

    private static DenseLayer dense(Activation act) {
        return new DenseLayer.Builder().nIn(3).nOut(2).activation(act).build();
    }

    private static ActivationLayer act(Activation act) {
        return new ActivationLayer.Builder().activation(act).build();
    }

    @Test
    void singleElementPatterns() {
        Pattern p = Pattern.of(DenseLayer.class);
        assertEquals(1, p.size());
        assertEquals(List.of(PatternElement.of(DenseLayer.class)), p.elements());
        assertEquals(DenseLayer.class, p.elements().get(0).type());
        assertNull(p.elements().get(0).activation());
        Pattern relu = Pattern.of(DenseLayer.class, Activation.RELU);
        assertEquals(Activation.RELU, relu.elements().get(0).activation());
        assertEquals(relu, Pattern.of(PatternElement.of(DenseLayer.class, Activation.RELU)));
        assertEquals(p, Pattern.sequence(DenseLayer.class));
    }

    @Test
    void sequencesKeepForwardOrder() {
        Pattern p = Pattern.sequence(DenseLayer.class, BatchNormalization.class, ActivationLayer.class);
        assertEquals(3, p.size());
        assertEquals(List.of(DenseLayer.class, BatchNormalization.class, ActivationLayer.class),
                p.elements().stream().map(PatternElement::type).toList());
        assertEquals("(DenseLayer, BatchNormalization, ActivationLayer)", p.toString());
    }

    @Test
    void elementMatchesRealDl4jConfigsByExactClassAndActivation() {
        PatternElement anyDense = PatternElement.of(DenseLayer.class);
        PatternElement reluDense = PatternElement.of(DenseLayer.class, Activation.RELU);
        assertTrue(anyDense.matches(dense(Activation.RELU)));
        assertTrue(anyDense.matches(dense(Activation.TANH)));
        assertTrue(reluDense.matches(dense(Activation.RELU)));
        assertFalse(reluDense.matches(dense(Activation.TANH)));
        assertFalse(reluDense.matches(new DenseLayer.Builder().nIn(3).nOut(2).build()), "activation not yet set");
        assertFalse(anyDense.matches(new OutputLayer.Builder().nIn(3).nOut(2).build()));
        CustomDense custom = new CustomDense();
        custom.setActivationFn(new ActivationReLU());
        assertFalse(reluDense.matches(custom));
        assertFalse(anyDense.matches(null));
        assertFalse(anyDense.matches("DenseLayer"));
    }

    @Test
    void activationComparedByClassSoParameterisedReluStillMatches() {
        DenseLayer relu6ish = dense(Activation.IDENTITY);
        relu6ish.setActivationFn(new ActivationReLU(6.0, 0.0, 0.0));
        assertTrue(PatternElement.of(DenseLayer.class, Activation.RELU).matches(relu6ish));
        assertFalse(PatternElement.of(DenseLayer.class, Activation.RELU6).matches(relu6ish));
    }

    @Test
    void elementMatchesVerticesAndLooksThroughLayerVertex() {
        assertTrue(PatternElement.of(MergeVertex.class).matches(new MergeVertex()));
        assertTrue(PatternElement.of(ElementWiseVertex.class).matches(new ElementWiseVertex(ElementWiseVertex.Op.Add)));
        assertFalse(PatternElement.of(MergeVertex.class).matches(new ElementWiseVertex(ElementWiseVertex.Op.Add)));
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().layer(act(Activation.RELU)).build();
        LayerVertex vertex = new LayerVertex(nnc, null);
        assertTrue(PatternElement.of(ActivationLayer.class, Activation.RELU).matches(vertex));
        assertFalse(PatternElement.of(ActivationLayer.class, Activation.TANH).matches(vertex));
    }

    @Test
    void sequenceMatchesAListOfConfigsInForwardOrder() {
        Pattern p = Pattern.sequence(PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                PatternElement.of(ActivationLayer.class, Activation.RELU));
        assertTrue(p.matches(List.of(dense(Activation.IDENTITY), act(Activation.RELU))));
        assertFalse(p.matches(List.of(act(Activation.RELU), dense(Activation.IDENTITY))));
        assertFalse(p.matches(List.of(dense(Activation.RELU), act(Activation.RELU))));
        assertFalse(p.matches(List.of(dense(Activation.IDENTITY))));
        assertFalse(p.matches(null));
    }

    @Test
    void complexFormatIsNormalisedToForwardOrder() {
        PatternElement relu = PatternElement.of(ActivationLayer.class, Activation.RELU);
        PatternElement lin = PatternElement.of(DenseLayer.class, Activation.IDENTITY);
        assertEquals(Pattern.sequence(lin, relu), Pattern.fromComplexFormat(List.of(relu, lin)));
        assertEquals(Pattern.sequence(DenseLayer.class, BatchNormalization.class, ActivationLayer.class),
                Pattern.fromComplexFormat(List.of(ActivationLayer.class,
                        List.of(BatchNormalization.class, DenseLayer.class))));
        assertEquals(Pattern.sequence(DenseLayer.class, DropoutLayer.class),
                Pattern.fromComplexFormat(new Object[] {DropoutLayer.class, DenseLayer.class}));
        assertEquals(Pattern.of(DenseLayer.class), Pattern.fromComplexFormat(DenseLayer.class));
        assertEquals(Pattern.sequence(lin, relu), Pattern.fromComplexFormat(List.of(
                Map.of("type", ActivationLayer.class.getName(), "activation", "RELU"),
                Map.of("type", DenseLayer.class.getName(), "activation", "IDENTITY"))));
    }

    @Test
    void complexFormatRejectsMultiInputNodesAndLongChains() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.fromComplexFormat(
                List.of(ElementWiseVertex.class, DenseLayer.class, DenseLayer.class))),
                "pattern_complex_format", "3 items", "MatchAllNode");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.fromComplexFormat(
                List.of(ActivationLayer.class, List.of(DropoutLayer.class, List.of(BatchNormalization.class,
                        DenseLayer.class))))),
                "4 elements", "1 to 3");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.fromComplexFormat(null)),
                "pattern_complex_format op", "null");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.fromComplexFormat(42)),
                "Integer 42", "a Class");
    }

    @Test
    void nullEmptyAndTooLongPatternsAreRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.sequence(new Class<?>[0])),
                "pattern", "0 elements", "1 to 3");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.sequence((Class<?>[]) null)),
                "pattern: got null", "1 to 3");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.sequence(DenseLayer.class,
                DropoutLayer.class, BatchNormalization.class, ActivationLayer.class)),
                "4 elements", "1 to 3");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.of((Class<?>) null)),
                "pattern element type", "null", "org.deeplearning4j.nn.conf.layers.Layer");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> Pattern.sequence(PatternElement.of(DenseLayer.class), null)),
                "pattern element 1", "null");
    }

    @Test
    void nonLayerAbstractAndWrapperClassesAreRejected() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.of(String.class)),
                "java.lang.String", "org.deeplearning4j.nn.conf.layers.Layer",
                "org.deeplearning4j.nn.conf.graph.GraphVertex");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.of(FeedForwardLayer.class)),
                "FeedForwardLayer", "concrete");
        assertContains(assertThrows(IllegalArgumentException.class, () -> Pattern.of(LayerVertex.class)),
                "LayerVertex");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> Pattern.of(org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer.class)),
                "org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer", "configuration class");
    }

    @Test
    void activationOnlyOnLayersThatHaveOne() {
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> PatternElement.of(MergeVertex.class, Activation.RELU)),
                "MergeVertex[RELU]", "no activation", "BaseLayer");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> PatternElement.of(SubsamplingLayer.class, Activation.RELU)),
                "SubsamplingLayer", "no activation");
    }

    @Test
    void mostSpecificFirstPrefersLongerThenConstrainedPatterns() {
        Pattern any = Pattern.of(DenseLayer.class);
        Pattern relu = Pattern.of(DenseLayer.class, Activation.RELU);
        Pattern pair = Pattern.sequence(PatternElement.of(DenseLayer.class, Activation.IDENTITY),
                PatternElement.of(ActivationLayer.class, Activation.RELU));
        List<Pattern> sorted = new ArrayList<>(List.of(any, relu, pair));
        sorted.sort(Pattern.MOST_SPECIFIC_FIRST);
        assertEquals(List.of(pair, relu, any), sorted);
    }

    @Test
    void equalsHashCodeToString() {
        assertEquals(Pattern.of(DenseLayer.class, Activation.RELU), Pattern.of(DenseLayer.class, Activation.RELU));
        assertEquals(Pattern.of(DenseLayer.class, Activation.RELU).hashCode(),
                Pattern.of(DenseLayer.class, Activation.RELU).hashCode());
        assertFalse(Pattern.of(DenseLayer.class).equals(Pattern.of(DenseLayer.class, Activation.RELU)));
        assertEquals("DenseLayer[RELU]", Pattern.of(DenseLayer.class, Activation.RELU).toString());
        assertEquals("ActivationLayer[RELU]", PatternElement.of(ActivationLayer.class, Activation.RELU).toString());
    }
}
