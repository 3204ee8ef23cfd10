package io.github.dl4jquant.qconfig;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.observer.HistogramObserver;
import io.github.dl4jquant.observer.MinMaxObserver;
import io.github.dl4jquant.observer.MovingAverageMinMaxObserver;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.observer.PerChannelMinMaxObserver;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.junit.jupiter.api.Test;

/** QConfigMapping precedence, JSON round trip, and the backend defaults. */
class QConfigMappingTest {
    private static final QConfig A = new QConfig(MinMaxObserver.builder(), null);
    private static final QConfig B = new QConfig(HistogramObserver.builder(), null);
    private static final QConfig C = new QConfig(MovingAverageMinMaxObserver.builder(), null);
    private static final QConfig D = new QConfig(MinMaxObserver.builder().reduceRange(true), null);
    private static final QConfig E = new QConfig(HistogramObserver.builder().reduceRange(true), null);

    @Test
    void precedenceIsPyTorchs() {
        QConfigMapping m = new QConfigMapping().setGlobal(A);
        assertEquals(new QConfigMapping.Resolution(A, "global"), m.resolve("d1", DenseLayer.class, 0));
        m.setObjectType(DenseLayer.class, B);
        assertEquals(new QConfigMapping.Resolution(B, "object_type DenseLayer"), m.resolve("d1", DenseLayer.class, 0));
        assertEquals(A, m.resolve("act", ActivationLayer.class, 0).qconfig());
        m.setModuleNameRegex("d.*", C);
        assertEquals(new QConfigMapping.Resolution(C, "module_name_regex 'd.*'"), m.resolve("d1", DenseLayer.class, 0));
        m.setModuleName("d1", D);
        assertEquals(new QConfigMapping.Resolution(D, "module_name 'd1'"), m.resolve("d1", DenseLayer.class, 0));
        m.setModuleNameObjectTypeOrder("", DenseLayer.class, 0, E);
        QConfigMapping.Resolution r = m.resolve("d1", DenseLayer.class, 0);
        assertEquals(E, r.qconfig());
        assertEquals("module_name_object_type_order ('', DenseLayer, 0)", r.source());
        assertEquals(D, m.resolve("d1", DenseLayer.class, 1).qconfig());
        assertEquals(C, m.resolve("d2", DenseLayer.class, 1).qconfig());
        assertEquals(B, m.resolve("out", DenseLayer.class, 2).qconfig());
    }

    @Test
    void nullMeansFp32AndNothingSetMeansNone() {
        assertEquals(new QConfigMapping.Resolution(null, "none"),
                new QConfigMapping().resolve("d1", DenseLayer.class, 0));
        QConfigMapping m = new QConfigMapping().setGlobal(A).setObjectType(OutputLayer.class, null);
        QConfigMapping.Resolution r = m.resolve("out", OutputLayer.class, 0);
        assertNull(r.qconfig());
        assertEquals("object_type OutputLayer", r.source());
        // object types match exactly, as PyTorch's type(module)
        assertEquals(A, new QConfigMapping().setGlobal(A).setObjectType(org.deeplearning4j.nn.conf.layers
                .FeedForwardLayer.class, null).resolve("d", DenseLayer.class, 0).qconfig());
    }

    @Test
    void regexesMatchFromTheStartAndTheFirstRegisteredWins() {
        QConfigMapping m = new QConfigMapping().setModuleNameRegex("enc", A).setModuleNameRegex("enc_1", B);
        assertEquals(A, m.resolve("enc_1", DenseLayer.class, 0).qconfig());
        assertEquals("none", m.resolve("xenc", DenseLayer.class, 0).source());
        m.setModuleNameRegex("enc", C);   // re-setting keeps its position
        assertEquals(C, m.resolve("enc_1", DenseLayer.class, 0).qconfig());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> m.setModuleNameRegex("(", A))
                .getMessage().contains("'('"));
    }

    @Test
    void explicitModuleNamesListsNamedVertices() {
        QConfigMapping m = new QConfigMapping().setModuleName("d1", A)
                .setModuleNameObjectTypeOrder("d2", DenseLayer.class, 0, B)
                .setModuleNameObjectTypeOrder("", DenseLayer.class, 1, B).setModuleNameRegex("x.*", C);
        assertEquals(Set.of("d1", "d2"), m.explicitModuleNames());
    }

    @Test
    void jsonRoundTripKeepsEveryEntryAndItsOrder() {
        QConfigMapping m = QConfigs.getDefaultQConfigMapping("x86")
                .setObjectType(OutputLayer.class, null)
                .setModuleNameRegex("enc.*", C)
                .setModuleNameRegex("dec.*", null)
                .setModuleName("d1", D)
                .setModuleNameObjectTypeOrder("", DenseLayer.class, 3, E);
        String json = m.toJson();
        QConfigMapping back = QConfigMapping.fromJson(json);
        assertEquals(m, back);
        assertEquals(json, back.toJson());
        for (String name : new String[] {"d1", "enc_2", "dec", "other"}) {
            assertEquals(m.resolve(name, DenseLayer.class, 3), back.resolve(name, DenseLayer.class, 3));
        }
        Observer act = back.resolve("other", DenseLayer.class, 0).qconfig().activation().create();
        assertEquals(127, act.quantMax());
        assertTrue(json.contains("\"org.deeplearning4j.nn.conf.layers.OutputLayer\""), json);
        QConfigMapping simpleName = QConfigMapping.fromDict(Map.of("object_type",
                java.util.List.of(java.util.List.of("DenseLayer", A.toMap()))));
        assertEquals(A, simpleName.resolve("x", DenseLayer.class, 0).qconfig());
        assertThrows(IllegalArgumentException.class, () -> QConfigMapping.fromJson("{\"objet_type\": []}"));
    }

    @Test
    void backendDefaultsFollowPyTorchWithDl4jWeightAxes() {
        for (String backend : new String[] {"x86", "fbgemm"}) {
            QConfig q = QConfigs.getDefaultQConfig(backend);
            assertEquals(HistogramObserver.builder().reduceRange(true).toMap(), q.activation().toMap());
            assertEquals(PerChannelMinMaxObserver.builder().chAxis(1).dtype(QuantDType.QINT8)
                    .qscheme(QScheme.PER_CHANNEL_SYMMETRIC).toMap(), q.weight().toMap());
            assertEquals(127, q.activation().create().quantMax());
        }
        QConfig onednn = QConfigs.getDefaultQConfig("onednn");
        assertEquals(255, onednn.activation().create().quantMax());
        assertEquals(1, onednn.weight().toMap().get("ch_axis"));
        QConfig qnnpack = QConfigs.getDefaultQConfig("qnnpack");
        assertEquals(255, qnnpack.activation().create().quantMax());
        assertEquals(MinMaxObserver.builder().dtype(QuantDType.QINT8).qscheme(QScheme.PER_TENSOR_SYMMETRIC).toMap(),
                qnnpack.weight().toMap());
        QConfigMapping m = QConfigs.getDefaultQConfigMapping("x86");
        assertEquals(0, m.resolve("c", ConvolutionLayer.class, 0).qconfig().weight().toMap().get("ch_axis"));
        assertEquals(1, m.resolve("d", DenseLayer.class, 0).qconfig().weight().toMap().get("ch_axis"));
        String msg = assertThrows(IllegalArgumentException.class, () -> QConfigs.getDefaultQConfig("arm"))
                .getMessage();
        assertTrue(msg.contains("'arm'") && msg.contains("qnnpack") && msg.contains("onednn"), msg);
    }

    @Test
    void dynamicDefaultsUsePlaceholderActivations() {
        QConfig q = QConfigs.getDefaultDynamicQConfig();
        Observer act = q.activation().create();
        assertTrue(act.isDynamic());
        assertEquals(QuantDType.QUINT8, act.dtype());
        assertEquals(0, act.quantMin());
        assertEquals(255, act.quantMax());
        Observer w = q.weight().create();
        assertEquals(QScheme.PER_CHANNEL_SYMMETRIC, w.qscheme());
        assertEquals(1, q.weight().toMap().get("ch_axis"));
        assertEquals(q, QConfigs.getDefaultDynamicQConfigMapping().resolve("any", DenseLayer.class, 0).qconfig());
    }

    @Test
    void qconfigSnapshotsItsBuilders() {
        MinMaxObserver.Builder b = MinMaxObserver.builder();
        QConfig q = new QConfig(b, null);
        b.reduceRange(true);
        assertEquals(255, q.activation().create().quantMax());
        assertThrows(IllegalArgumentException.class, () -> new QConfig(null, null));
    }
}
