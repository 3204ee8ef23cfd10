package io.github.dl4jquant.kernel;

import org.bytedeco.dnnl.global.dnnl.algorithm;
import org.bytedeco.dnnl.post_ops;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationHardTanH;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationTanH;

/**
 * An ND4J activation as a oneDNN eltwise post-op, when oneDNN computes the same function: ReLU, leaky ReLU, ReLU6
 * and hard tanh (clips), ELU, tanh, sigmoid. Identity is no post-op at all. Others (softmax, activations with
 * non-default parameters oneDNN has no counterpart for) give null from {@link #of}.
 *
 * <pre>{@code
 * DnnlEltwise relu = DnnlEltwise.of(new ActivationReLU());   // eltwise_relu
 * relu.appendTo(ops);
 * DnnlEltwise.of(new ActivationSoftmax());                   // null: not a post-op
 * }</pre>
 *
 * @param kind the eltwise algorithm, or null for identity
 */
record DnnlEltwise(algorithm kind, float alpha, float beta) {
    static final DnnlEltwise IDENTITY = new DnnlEltwise(null, 0f, 0f);

    /** The post-op computing {@code activation}, {@link #IDENTITY}, or null when oneDNN has none that is exact. */
    static DnnlEltwise of(IActivation activation) {
        if (activation == null || activation instanceof ActivationIdentity) {
            return IDENTITY;
        }
        if (activation instanceof ActivationReLU r) {
            return r.equals(new ActivationReLU()) ? new DnnlEltwise(algorithm.eltwise_relu, 0f, 0f) : null;
        }
        if (activation instanceof ActivationLReLU l) {
            return new DnnlEltwise(algorithm.eltwise_relu, (float) l.getAlpha(), 0f);
        }
        if (activation instanceof ActivationReLU6) {
            return new DnnlEltwise(algorithm.eltwise_clip, 0f, 6f);
        }
        if (activation instanceof ActivationHardTanH) {
            return new DnnlEltwise(algorithm.eltwise_clip, -1f, 1f);
        }
        if (activation instanceof ActivationELU e) {
            return new DnnlEltwise(algorithm.eltwise_elu, (float) e.getAlpha(), 0f);
        }
        if (activation instanceof ActivationTanH) {
            return new DnnlEltwise(algorithm.eltwise_tanh, 0f, 0f);
        }
        if (activation instanceof ActivationSigmoid) {
            return new DnnlEltwise(algorithm.eltwise_logistic, 0f, 0f);
        }
        return null;
    }

    /** True when {@code activation} runs as a post-op ({@link #of} is not null). */
    static boolean expresses(IActivation activation) {
        return of(activation) != null;
    }

    void appendTo(post_ops ops) {
        if (kind != null) {
            ops.append_eltwise(1f, kind, alpha, beta);
        }
    }

    @Override
    public String toString() {
        return kind == null ? "identity" : kind.toString();
    }
}
