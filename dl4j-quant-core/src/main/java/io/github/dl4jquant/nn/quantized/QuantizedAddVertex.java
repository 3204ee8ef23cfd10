package io.github.dl4jquant.nn.quantized;

import io.github.dl4jquant.DenseArrays;
import io.github.dl4jquant.QParams;
import io.github.dl4jquant.QuantOps;
import io.github.dl4jquant.kernel.DnnlInt8Add;
import io.github.dl4jquant.kernel.Int8Gemms;
import io.github.dl4jquant.nn.Int8Layer;
import io.github.dl4jquant.nn.InputOwner;
import java.util.Arrays;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.impl.ElementWiseVertex;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The runtime vertex of {@link QuantizedAdd}: two inputs of one shape run on {@link DnnlInt8Add}; anything else (more
 * inputs, broadcasting, no oneDNN primitives) is DL4J's float add, then the ReLU and the output quantization, which
 * computes the same numbers. Inference only.
 *
 * <pre>{@code
 * INDArray y = graph.outputSingle(x);    // runs QuantizedAddVertex.doForward for the add vertex
 * }</pre>
 */
public class QuantizedAddVertex extends ElementWiseVertex {
    private final QuantizedAdd conf;
    private final QParams output;
    private volatile DnnlInt8Add kernel;
    /** Who set each input; guarded by this vertex's lock, as the inputs are (see {@link InputOwner}). */
    private InputOwner[] inputOwners = new InputOwner[0];

    public QuantizedAddVertex(ComputationGraph graph, String name, int vertexIndex, QuantizedAdd conf,
                              DataType dataType) {
        super(graph, name, vertexIndex, Op.Add, dataType);
        this.conf = conf;
        this.output = conf.outputQParams();
    }

    @Override
    public synchronized void setInput(int inputNumber, INDArray input, LayerWorkspaceMgr workspaceMgr) {
        super.setInput(inputNumber, input, workspaceMgr);
        ownerOf(inputNumber).set();
    }

    @Override
    public synchronized void setInputs(INDArray... inputs) {
        super.setInputs(inputs);
        for (int i = 0; i < inputs.length; i++) {
            ownerOf(i).set();
        }
    }

    @Override
    public synchronized INDArray doForward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        String name = "QuantizedAdd '" + getVertexName() + "'";
        if (training) {
            throw Int8Layer.inferenceOnly(name);
        }
        for (InputOwner owner : inputOwners) {
            owner.check(name);
        }
        DnnlInt8Add k = kernel();
        if (k == null || inputs.length != 2 || !Arrays.equals(inputs[0].shape(), inputs[1].shape())) {
            return floatAdd(workspaceMgr);
        }
        INDArray a = DenseArrays.denseC(inputs[0].castTo(DataType.FLOAT));
        INDArray b = DenseArrays.denseC(inputs[1].castTo(DataType.FLOAT));
        INDArray y = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, a.shape(), 'c');
        k.forward(a, b, conf.isChannelsLast(), y);
        k.offer(y);
        return dataType == DataType.FLOAT ? y : workspaceMgr.castTo(ArrayType.ACTIVATIONS, dataType, y, false);
    }

    private InputOwner ownerOf(int inputNumber) {
        if (inputNumber >= inputOwners.length) {
            InputOwner[] grown = Arrays.copyOf(inputOwners, inputNumber + 1);
            for (int i = inputOwners.length; i < grown.length; i++) {
                grown[i] = new InputOwner();
            }
            inputOwners = grown;
        }
        return inputOwners[inputNumber];
    }

    /** DL4J's add, the ReLU and the output quantize-dequantize: the reference computation. */
    private INDArray floatAdd(LayerWorkspaceMgr workspaceMgr) {
        INDArray sum = super.doForward(false, workspaceMgr);
        INDArray activated = conf.isRelu() ? Transforms.relu(sum, true) : sum;
        INDArray q = QuantOps.fakeQuantize(activated, output);
        return workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, sum.dataType(), sum.shape(), 'c').assign(q);
    }

    private DnnlInt8Add kernel() {
        boolean use = Int8Gemms.fusedLinearEnabled();
        if (kernel == null && use || kernel != null && !use) {
            synchronized (this) {
                kernel = use ? new DnnlInt8Add(output.scale(), output.zeroPoint(), conf.isRelu(),
                        conf.isHandsOverOutput()) : null;
            }
        }
        return kernel;
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr workspaceMgr) {
        throw Int8Layer.inferenceOnly("QuantizedAdd '" + getVertexName() + "'");
    }

    @Override
    public String toString() {
        return "QuantizedAddVertex(" + getVertexName() + ", " + conf + ")";
    }
}
