package io.github.dl4jquant.nn;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QScheme;
import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.nn.quantized.QuantizedDense;
import io.github.dl4jquant.nn.reference.ReferenceQuantizedDense;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Builds fp32 MLP graphs and converts them the way the graph package will: observer-style qparams computed here
 * with PyTorch's MinMax formulas, layers swapped through TransferLearning.GraphBuilder (dl4j-facts section 2).
 */
public final class NnTestSupport {
    private NnTestSupport() {
    }

    /** in -> d0 -> d1 -> ... with the given sizes and activations (one per layer). */
    public static ComputationGraph mlp(long seed, int[] sizes, Activation... activations) {
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder().seed(seed)
                .weightInit(WeightInit.XAVIER).graphBuilder().addInputs("in")
                .setInputTypes(InputType.feedForward(sizes[0]));
        String prev = "in";
        for (int i = 0; i + 1 < sizes.length; i++) {
            b.addLayer("d" + i, new DenseLayer.Builder().nIn(sizes[i]).nOut(sizes[i + 1])
                    .activation(activations[i]).build(), prev);
            prev = "d" + i;
        }
        b.setOutputs(prev);
        ComputationGraph g = new ComputationGraph(b.build());
        g.init();
        // Non-zero biases, so the bias path is exercised
        for (int i = 0; i + 1 < sizes.length; i++) {
            g.getLayer("d" + i).setParam("b", Nd4j.rand(DataType.FLOAT, 1, sizes[i + 1]).subi(0.5));
        }
        return g;
    }

    /** PyTorch MinMaxObserver(quint8, per_tensor_affine) over one tensor. */
    public static QParams affineQuint8(INDArray x) {
        double minNeg = Math.min(x.minNumber().doubleValue(), 0);
        double maxPos = Math.max(x.maxNumber().doubleValue(), 0);
        float scale = (float) Math.max((maxPos - minNeg) / 255.0, Math.ulp(1.0f));
        int zp = (int) Math.max(0, Math.min(255, 0 - Math.rint(minNeg / scale)));
        return QParams.perTensor(scale, zp, QuantDType.QUINT8, 0, 255, QScheme.PER_TENSOR_AFFINE);
    }

    /** PyTorch PerChannelMinMaxObserver(qint8, per_channel_symmetric) on W [nIn, nOut], channel axis 1. */
    public static QParams perChannelSymmetric(INDArray w) {
        INDArray absMax = Nd4j.math().abs(w.castTo(DataType.FLOAT)).max(0);
        float[] scales = new float[(int) w.size(1)];
        for (int j = 0; j < scales.length; j++) {
            scales[j] = (float) Math.max(absMax.getDouble(j) / 127.5, Math.ulp(1.0f));
        }
        return QParams.perChannel(scales, new int[scales.length], 1, QuantDType.QINT8, -128, 127,
                QScheme.PER_CHANNEL_SYMMETRIC);
    }

    /** Every DenseLayer becomes a ReferenceQuantizedDense calibrated on {@code calibration}. */
    public static ComputationGraph toReference(ComputationGraph fp32, INDArray calibration, boolean dynamic,
                                               boolean quantizeOutputs) {
        Map<String, INDArray> acts = fp32.feedForward(calibration, false);
        ComputationGraphConfiguration conf = fp32.getConfiguration();
        TransferLearning.GraphBuilder tb = new TransferLearning.GraphBuilder(fp32);
        List<String> names = new ArrayList<>();
        for (String name : conf.getTopologicalOrderStr()) {
            if (!(conf.getVertices().get(name) instanceof LayerVertex)) {
                continue;
            }
            Layer l = ((LayerVertex) conf.getVertices().get(name)).getLayerConf().getLayer();
            if (!(l instanceof DenseLayer)) {
                continue;
            }
            DenseLayer d = (DenseLayer) l;
            String input = conf.getVertexInputs().get(name).get(0);
            INDArray w = fp32.getLayer(name).getParam("W");
            ReferenceQuantizedDense r = new ReferenceQuantizedDense.Builder().nIn(d.getNIn()).nOut(d.getNOut())
                    .activation(d.getActivationFn())
                    .inputQParams(dynamic ? null : affineQuint8(acts.get(input)))
                    .weightQParams(perChannelSymmetric(w))
                    .outputQParams(quantizeOutputs ? affineQuint8(acts.get(name)) : null)
                    .dynamic(dynamic)
                    .build();
            tb.removeVertexKeepConnections(name).addLayer(name, r, input);
            names.add(name);
        }
        ComputationGraph ref = tb.build();
        for (String name : names) {
            ref.getLayer(name).setParam("W", fp32.getLayer(name).getParam("W").dup());
            ref.getLayer(name).setParam("b", fp32.getLayer(name).getParam("b").dup());
        }
        return ref;
    }

    /** Every ReferenceQuantizedDense becomes a QuantizedDense. */
    public static ComputationGraph toQuantized(ComputationGraph ref) {
        ComputationGraphConfiguration conf = ref.getConfiguration();
        TransferLearning.GraphBuilder tb = new TransferLearning.GraphBuilder(ref);
        for (String name : conf.getTopologicalOrderStr()) {
            if (conf.getVertices().get(name) instanceof LayerVertex) {
                Layer l = ((LayerVertex) conf.getVertices().get(name)).getLayerConf().getLayer();
                if (l instanceof ReferenceQuantizedDense) {
                    QuantizedDense q = QuantizedDense.fromReference((ReferenceQuantizedDense) l,
                            ref.getLayer(name).getParam("W"), ref.getLayer(name).getParam("b"));
                    tb.removeVertexKeepConnections(name).addLayer(name, q, conf.getVertexInputs().get(name).get(0));
                }
            }
        }
        return tb.build();
    }

    /** {identical fraction, within-one-step fraction} of two outputs quantized with the same step. */
    public static double[] agreement(INDArray a, INDArray b, double step) {
        float[] x = a.dup('c').data().asFloat();
        float[] y = b.dup('c').data().asFloat();
        int same = 0;
        int within = 0;
        for (int i = 0; i < x.length; i++) {
            same += x[i] == y[i] ? 1 : 0;
            within += Math.abs(x[i] - y[i]) <= step * 1.0001 ? 1 : 0;
        }
        return new double[] {same / (double) x.length, within / (double) x.length};
    }
}
