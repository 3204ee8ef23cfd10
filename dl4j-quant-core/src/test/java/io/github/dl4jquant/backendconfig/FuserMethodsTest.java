package io.github.dl4jquant.backendconfig;

import static io.github.dl4jquant.backendconfig.DTypeWithConstraintsTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationTanH;

class FuserMethodsTest {

    /** Drops an inference-time no-op dropout layer: a custom fuser users could register. */
    private static final FuserMethod DROP_DROPOUT = new FuserMethod() {
        @Override
        public String name() {
            return "test_drop_dropout";
        }

        @Override
        public LayerWithParams fuse(boolean isQat, List<LayerWithParams> layers) {
            return layers.get(0);
        }
    };

    private static List<LayerWithParams> layers(Layer... layers) {
        return java.util.Arrays.stream(layers).map(LayerWithParams::of).toList();
    }

    private static DenseLayer dense(Activation act) {
        DenseLayer d = new DenseLayer.Builder().nIn(3).nOut(2).activation(act).hasLayerNorm(true).build();
        d.setLayerName("d1");
        return d;
    }

    @Test
    void builtInFuserIsRegistered() {
        FuserMethod f = FuserMethods.get("fuse_dense_activation");
        assertEquals("fuse_dense_activation", f.name());
        assertEquals(FuserMethods.FUSE_DENSE_ACTIVATION, f.name());
        assertTrue(FuserMethods.names().contains("fuse_dense_activation"));
        assertTrue(FuserMethods.isRegistered(f));
    }

    @Test
    void fuseDenseActivationMovesTheActivationIntoACopyOfTheDense() {
        DenseLayer d = dense(Activation.IDENTITY);
        ActivationLayer relu = new ActivationLayer.Builder().activation(Activation.RELU).build();
        INDArray w = Nd4j.rand(DataType.FLOAT, 3, 2);
        LayerWithParams fusedWithParams = FuserMethods.get("fuse_dense_activation").fuse(false,
                List.of(new LayerWithParams(d, Map.of("W", w)), LayerWithParams.of(relu)));
        Layer fused = fusedWithParams.layer();
        DenseLayer out = (DenseLayer) fused;
        assertSame(w, fusedWithParams.params().get("W"), "moving an activation keeps the root's parameters");
        assertNotSame(d, out);
        assertEquals(ActivationReLU.class, out.getActivationFn().getClass());
        assertEquals(3, out.getNIn());
        assertEquals(2, out.getNOut());
        assertTrue(out.hasLayerNorm());
        assertEquals("d1", out.getLayerName());
        assertEquals(ActivationIdentity.class, d.getActivationFn().getClass(), "input not modified");
        assertTrue(PatternElement.of(DenseLayer.class, Activation.RELU).matches(fused));
        DenseLayer tanh = (DenseLayer) FuserMethods.get("fuse_dense_activation").fuse(true,
                layers(d, new ActivationLayer.Builder().activation(Activation.TANH).build())).layer();
        assertEquals(ActivationTanH.class, tanh.getActivationFn().getClass());
    }

    @Test
    void fuseDenseActivationRejectsWhatItCannotFuseExactly() {
        FuserMethod f = FuserMethods.get("fuse_dense_activation");
        ActivationLayer relu = new ActivationLayer.Builder().activation(Activation.RELU).build();
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> f.fuse(false, layers(dense(Activation.SIGMOID), relu))),
                "fuse_dense_activation", "'d1'", "sigmoid", "IDENTITY");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> f.fuse(false, layers(relu, dense(Activation.IDENTITY)))),
                "[one of DenseLayer, ActivationLayer]");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> f.fuse(false, layers(dense(Activation.IDENTITY)))), "[one of DenseLayer, ActivationLayer]");
        assertContains(assertThrows(IllegalArgumentException.class,
                () -> f.fuse(false, layers(dense(Activation.IDENTITY), new ActivationLayer()))), "no activation");
    }

    @Test
    void unknownNamesListTheRegisteredOnes() {
        assertContains(assertThrows(IllegalArgumentException.class, () -> FuserMethods.get("fuse_linear_relu")),
                "fuser_method", "'fuse_linear_relu'", "fuse_dense_activation", "FuserMethods.register");
    }

    @Test
    void customFusersRegisterOnceAndSerialiseByName() {
        FuserMethods.register(DROP_DROPOUT);
        FuserMethods.register(DROP_DROPOUT);
        assertSame(DROP_DROPOUT, FuserMethods.get("test_drop_dropout"));
        BackendPatternConfig c = new BackendPatternConfig(Pattern.sequence(DenseLayer.class, DropoutLayer.class))
                .setFuserMethod(DROP_DROPOUT).setFusedModule(DenseLayer.class);
        BackendPatternConfig back = BackendPatternConfig.fromJson(c.toJson());
        assertSame(DROP_DROPOUT, back.getFuserMethod());
        assertEquals(c, back);
    }

    @Test
    void takenOrBlankNamesAreRejected() {
        FuserMethod impostor = new FuserMethod() {
            @Override
            public String name() {
                return "fuse_dense_activation";
            }

            @Override
            public LayerWithParams fuse(boolean isQat, List<LayerWithParams> layers) {
                return layers.get(1);
            }
        };
        assertContains(assertThrows(IllegalArgumentException.class, () -> FuserMethods.register(impostor)),
                "'fuse_dense_activation' is already registered");
        assertContains(assertThrows(IllegalArgumentException.class, () -> FuserMethods.register(null)),
                "fuser_method: got null");
        FuserMethod blank = new FuserMethod() {
            @Override
            public String name() {
                return " ";
            }

            @Override
            public LayerWithParams fuse(boolean isQat, List<LayerWithParams> layers) {
                return null;
            }
        };
        assertContains(assertThrows(IllegalArgumentException.class, () -> FuserMethods.register(blank)),
                "non-blank name()");
    }
}
