package io.github.dl4jquant.bench.peers;

import static org.bytedeco.pytorch.global.torch.globalContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.pytorch.Context;
import org.bytedeco.pytorch.QEngineVector;
import org.bytedeco.pytorch.global.torch.QEngine;

/**
 * A PyTorch quantized engine ({@code torch.backends.quantized.engine}) and the activation range of its default
 * qconfig ({@code get_default_qconfig(engine)}): quint8 with {@code reduce_range} ([0, 127]) for x86 and fbgemm,
 * whose VPMADDUBSW kernels could saturate on 8-bit activations, full [0, 255] for onednn.
 */
enum PyTorch2Engine {
    X86(QEngine.X86, 127),
    FBGEMM(QEngine.FBGEMM, 127),
    ONEDNN(QEngine.ONEDNN, 255);

    private final QEngine qengine;
    private final int activationQuantMax;

    PyTorch2Engine(QEngine qengine, int activationQuantMax) {
        this.qengine = qengine;
        this.activationQuantMax = activationQuantMax;
    }

    /** x86, fbgemm or onednn, as {@code torch.backends.quantized.engine} names them. */
    static PyTorch2Engine of(String name) {
        for (PyTorch2Engine e : values()) {
            if (e.name().equalsIgnoreCase(name)) {
                return e;
            }
        }
        throw new IllegalArgumentException("Unknown quantized engine '" + name + "'; known: x86, fbgemm, onednn");
    }

    int activationQuantMax() {
        return activationQuantMax;
    }

    /**
     * Makes this the engine of the ops called (and weights packed) from now on, and reads it back: throws if this
     * libtorch build does not have it or did not switch.
     */
    void select() {
        List<QEngine> supported = supported();
        if (!supported.contains(qengine)) {
            throw new IllegalStateException("This libtorch build has no quantized engine " + label()
                    + " (supported: " + supported + ")");
        }
        globalContext().setQEngine(qengine);
        // intern(): the presets return enum constants from native code as new objects
        QEngine now = globalContext().qEngine().intern();
        if (now != qengine) {
            throw new IllegalStateException("setQEngine(" + qengine + ") left the quantized engine at " + now);
        }
    }

    String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    private static List<QEngine> supported() {
        QEngineVector v = Context.supportedQEngines();
        List<QEngine> engines = new ArrayList<>();
        for (long i = 0; i < v.size(); i++) {
            engines.add(v.get(i).intern());
        }
        return engines;
    }
}
