package io.github.dl4jquant.graph;

import io.github.dl4jquant.QuantDType;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.backendconfig.DTypeWithConstraints;
import io.github.dl4jquant.observer.FixedQParamsObserver;
import io.github.dl4jquant.observer.Observer;
import io.github.dl4jquant.qconfig.QConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Chooses the DTypeConfig a pattern is quantized with, by PyTorch's rule
 * ({@code _is_pattern_dtype_config_and_qconfig_supported_by_backend}): the first DTypeConfig in the pattern's list whose
 * input, weight, bias and output dtypes the QConfig's observers produce and whose constraints they satisfy.
 *
 * <pre>{@code
 * DTypeConfigSelector.Selection s = DTypeConfigSelector.select(config.getDtypeConfigs(), qconfig, true);
 * if (s.chosen() == null) log.info("kept fp32: {}", s.explanation());
 * }</pre>
 *
 * <p>Unlike PyTorch, every rejection is explained. One deliberate difference: an output constraint with an exact scale
 * and zero point (Sigmoid, Tanh, Softmax) is satisfied by construction, because the graph gives such outputs a
 * {@link FixedQParamsObserver} with exactly those qparams: DL4J layers carry their activation inside, so the layer's
 * QConfig cannot name a fixed-qparams observer for the activation alone.
 */
public final class DTypeConfigSelector {

    /**
     * The outcome of a selection.
     *
     * @param chosen      the accepted DTypeConfig, or null
     * @param reason      why nothing was accepted (DTYPE_MISMATCH or CONSTRAINT_VIOLATED), null when chosen
     * @param explanation one line per rejected DTypeConfig
     */
    public record Selection(DTypeConfig chosen, SkipReason reason, String explanation) {
    }

    private static final String WEIGHT_ONLY_HINT = " (float activations, quantized weight rows: give this layer "
            + "QConfigs.getFloatQParamsWeightOnlyQConfig() or getFloatQParamsWeightOnlyQConfig4bit(), PyTorch's "
            + "float_qparams_weight_only_qconfig, e.g. through QConfigs.withWeightOnlyEmbeddings(mapping); the "
            + "dynamic default mappings do so)";

    private DTypeConfigSelector() {
    }

    public static Selection select(List<DTypeConfig> dtypeConfigs, QConfig qconfig, boolean hasWeight) {
        if (dtypeConfigs.isEmpty()) {
            return new Selection(null, SkipReason.DTYPE_MISMATCH, "the pattern has no DTypeConfig");
        }
        Observer act = qconfig.activation().create();
        Observer weight = qconfig.weight() == null ? null : qconfig.weight().create();
        boolean weightOnly = dtypeConfigs.stream().allMatch(DTypeConfigSelector::isWeightOnly);
        if (act.isDynamic() && weightOnly) {
            return new Selection(null, SkipReason.DTYPE_MISMATCH, "the QConfig's activation observer " + name(act)
                    + " is dynamic, but the backend quantizes this pattern weight-only" + WEIGHT_ONLY_HINT);
        }
        if (act.isDynamic() && dtypeConfigs.stream().noneMatch(DTypeConfig::isDynamic)) {
            return new Selection(null, SkipReason.DTYPE_MISMATCH, "the backend quantizes this pattern statically "
                    + "only: it has no dynamic DTypeConfig (as in PyTorch, which has no dynamic convolution, pooling "
                    + "or add); quantize it statically instead (prepare, calibrate, convert)");
        }
        List<String> rejections = new ArrayList<>();
        boolean anyConstraintProblem = false;
        for (int i = 0; i < dtypeConfigs.size(); i++) {
            DTypeConfig dc = dtypeConfigs.get(i);
            Check c = check(dc, act, weight, hasWeight);
            if (c.problem == null) {
                return new Selection(dc, null, "");
            }
            anyConstraintProblem |= c.constraint;
            rejections.add("DTypeConfig #" + (i + 1) + " " + describe(dc) + ": " + c.problem);
        }
        return new Selection(null, anyConstraintProblem ? SkipReason.CONSTRAINT_VIOLATED : SkipReason.DTYPE_MISMATCH,
                String.join("; ", rejections) + (weightOnly ? WEIGHT_ONLY_HINT : ""));
    }

    /** Float in and out with a quantized weight: PyTorch's weight-only configs (embeddings). */
    private static boolean isWeightOnly(DTypeConfig dc) {
        return dc.getInputDtype() == QuantDType.FLOAT32 && dc.getOutputDtype() == QuantDType.FLOAT32
                && dc.getWeightDtype() != null && dc.getWeightDtype().isQuantized();
    }

    /** E.g. {@code (input quint8, output quint8, weight qint8, bias float32)}. */
    public static String describe(DTypeConfig dc) {
        StringBuilder sb = new StringBuilder("(");
        append(sb, "input", dc.getInputDtype());
        append(sb, "output", dc.getOutputDtype());
        append(sb, "weight", dc.getWeightDtype());
        append(sb, "bias", dc.getBiasDtype());
        if (dc.isDynamic()) {
            sb.append(sb.length() > 1 ? ", " : "").append("dynamic");
        }
        return sb.append(")").toString();
    }

    private static void append(StringBuilder sb, String what, QuantDType t) {
        if (t != null) {
            sb.append(sb.length() > 1 ? ", " : "").append(what).append(' ').append(shortName(t));
        }
    }

    private static String shortName(QuantDType t) {
        return t.torchName().substring("torch.".length());
    }

    private record Check(String problem, boolean constraint) {
        static final Check OK = new Check(null, false);
    }

    private static Check check(DTypeConfig dc, Observer act, Observer weight, boolean hasWeight) {
        if (dc.getInputDtype() != null) {
            if (act.dtype() != dc.getInputDtype()) {
                return mismatch("input", act, dc.getInputDtype());
            }
            if (dc.isDynamic() != act.isDynamic()) {
                return new Check("the pattern is " + (dc.isDynamic() ? "dynamic" : "static") + " but the QConfig's "
                        + "activation observer " + name(act) + " is " + (act.isDynamic() ? "dynamic" : "static"), false);
            }
            String violated = violatedConstraint(act, dc.getInputDtypeWithConstraints(), false);
            if (violated != null) {
                return new Check("input " + violated, true);
            }
        }
        if (hasWeight && dc.getWeightDtype() != null) {
            if (weight == null) {
                return new Check("the QConfig has no weight observer but the pattern needs " + shortName(dc.getWeightDtype())
                        + " weights", false);
            }
            if (weight.dtype() != dc.getWeightDtype()) {
                return mismatch("weight", weight, dc.getWeightDtype());
            }
            String violated = violatedConstraint(weight, dc.getWeightDtypeWithConstraints(), false);
            if (violated != null) {
                return new Check("weight " + violated, true);
            }
        }
        if (dc.getBiasDtype() != null && dc.getBiasDtype() != QuantDType.FLOAT32) {
            return new Check("bias dtype " + shortName(dc.getBiasDtype()) + " is not supported (biases stay float32)",
                    false);
        }
        if (dc.getOutputDtype() != null) {
            QuantDType produced = act.isDynamic() ? QuantDType.FLOAT32 : act.dtype();
            if (produced != dc.getOutputDtype()) {
                return new Check("output dtype: the QConfig produces " + shortName(produced) + ", the backend needs "
                        + shortName(dc.getOutputDtype()), false);
            }
            String violated = violatedConstraint(act, dc.getOutputDtypeWithConstraints(), true);
            if (violated != null) {
                return new Check("output " + violated, true);
            }
        }
        return Check.OK;
    }

    private static Check mismatch(String what, Observer obs, QuantDType needed) {
        return new Check(what + " dtype: QConfig " + (what.equals("weight") ? "weight" : "activation") + " observer "
                + name(obs) + " gives " + shortName(obs.dtype()) + ", the backend needs " + shortName(needed), false);
    }

    /** PyTorch's {@code _qconfig_satisfies_dtype_config_constraints}; returns what is violated, or null. */
    private static String violatedConstraint(Observer obs, DTypeWithConstraints c, boolean isOutput) {
        if (c == null || c.getDtype() == null || obs.dtype() != c.getDtype()) {
            return null;
        }
        boolean fixed = c.getScaleExactMatch() != null && c.getZeroPointExactMatch() != null;
        if (fixed && isOutput) {
            return null;
        }
        if (c.getQuantMinLowerBound() != null && c.getQuantMaxUpperBound() != null
                && (obs.quantMin() < c.getQuantMinLowerBound() || obs.quantMax() > c.getQuantMaxUpperBound())) {
            return "quant range [" + obs.quantMin() + ", " + obs.quantMax() + "] of " + name(obs)
                    + " is outside the backend's [" + c.getQuantMinLowerBound() + ", " + c.getQuantMaxUpperBound() + "]";
        }
        if (c.getScaleMinLowerBound() != null && obs.eps() < c.getScaleMinLowerBound()) {
            return "eps " + obs.eps() + " of " + name(obs) + " is below the backend's min scale "
                    + c.getScaleMinLowerBound() + " (set eps >= that value)";
        }
        if (fixed) {
            if (!(obs instanceof FixedQParamsObserver)) {
                return "needs a FixedQParamsObserver(scale=" + c.getScaleExactMatch() + ", zero_point="
                        + c.getZeroPointExactMatch() + "), got " + name(obs);
            }
            FixedQParamsObserver f = (FixedQParamsObserver) obs;
            if (f.scale() != c.getScaleExactMatch().floatValue() || f.zeroPoint() != c.getZeroPointExactMatch()) {
                return "fixed qparams (" + f.scale() + ", " + f.zeroPoint() + ") do not match the backend's ("
                        + c.getScaleExactMatch() + ", " + c.getZeroPointExactMatch() + ")";
            }
        }
        return null;
    }

    private static String name(Observer obs) {
        return obs.getClass().getSimpleName();
    }
}
