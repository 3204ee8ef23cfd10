package io.github.dl4jquant.ns;

/**
 * The budget and options of accuracy-aware quantization ({@link AccuracyControl}). Immutable; build it with
 * {@link #builder()}. At least one of the drop limits must be set; when both are, both must hold.
 *
 * <pre>{@code
 * AccuracyControlConfig config = AccuracyControlConfig.builder()
 *         .maxAbsoluteDrop(0.002)          // 0.2 accuracy points when the metric is a fraction
 *         .maxTrials(10)
 *         .build();
 * }</pre>
 *
 * @param maxAbsoluteDrop     largest accepted {@code fp32 metric - quantized metric}, NaN when unset
 * @param maxRelativeDrop     largest accepted drop as a fraction of |fp32 metric|, NaN when unset
 * @param maxTrials           most quantize-and-evaluate rounds, the first (everything quantized) included
 * @param ranking             how layers are ordered for fp32 fallback
 * @param biasCorrection      correct dense biases for the mean shift of weight quantization ({@link BiasCorrection})
 * @param lowered             convert to int8 kernels ({@code convert}) rather than reference modules
 * @param sensitivityExamples how many calibration examples the SQNR ranking runs the numeric suite on
 */
public record AccuracyControlConfig(double maxAbsoluteDrop, double maxRelativeDrop, int maxTrials,
                                    SensitivityRanking ranking, boolean biasCorrection, boolean lowered,
                                    int sensitivityExamples) {

    public AccuracyControlConfig {
        if (Double.isNaN(maxAbsoluteDrop) && Double.isNaN(maxRelativeDrop)) {
            throw new IllegalArgumentException("AccuracyControlConfig needs maxAbsoluteDrop or maxRelativeDrop; both "
                    + "are unset");
        }
        if (maxAbsoluteDrop < 0 || maxRelativeDrop < 0) {
            throw new IllegalArgumentException("Drop limits must be >= 0; got maxAbsoluteDrop=" + maxAbsoluteDrop
                    + ", maxRelativeDrop=" + maxRelativeDrop);
        }
        if (maxTrials < 1) {
            throw new IllegalArgumentException("maxTrials must be >= 1 (the first trial quantizes every layer); got "
                    + maxTrials);
        }
        if (ranking == null) {
            throw new IllegalArgumentException("ranking must be SQNR or FALLBACK_GAIN; got null");
        }
        if (sensitivityExamples < 1) {
            throw new IllegalArgumentException("sensitivityExamples must be >= 1; got " + sensitivityExamples);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The largest drop accepted for a model whose fp32 metric is {@code fp32Metric}. */
    public double allowedDrop(double fp32Metric) {
        double abs = Double.isNaN(maxAbsoluteDrop) ? Double.POSITIVE_INFINITY : maxAbsoluteDrop;
        double rel = Double.isNaN(maxRelativeDrop) ? Double.POSITIVE_INFINITY : maxRelativeDrop * Math.abs(fp32Metric);
        return Math.min(abs, rel);
    }

    /** Fluent builder; defaults: 20 trials, SQNR ranking, no bias correction, int8 kernels, 1000 examples. */
    public static final class Builder {
        private double maxAbsoluteDrop = Double.NaN;
        private double maxRelativeDrop = Double.NaN;
        private int maxTrials = 20;
        private SensitivityRanking ranking = SensitivityRanking.SQNR;
        private boolean biasCorrection;
        private boolean lowered = true;
        private int sensitivityExamples = 1000;

        private Builder() {
        }

        public Builder maxAbsoluteDrop(double drop) {
            this.maxAbsoluteDrop = drop;
            return this;
        }

        public Builder maxRelativeDrop(double fraction) {
            this.maxRelativeDrop = fraction;
            return this;
        }

        public Builder maxTrials(int trials) {
            this.maxTrials = trials;
            return this;
        }

        public Builder ranking(SensitivityRanking newRanking) {
            this.ranking = newRanking;
            return this;
        }

        public Builder biasCorrection(boolean enabled) {
            this.biasCorrection = enabled;
            return this;
        }

        public Builder lowered(boolean int8Kernels) {
            this.lowered = int8Kernels;
            return this;
        }

        public Builder sensitivityExamples(int examples) {
            this.sensitivityExamples = examples;
            return this;
        }

        public AccuracyControlConfig build() {
            return new AccuracyControlConfig(maxAbsoluteDrop, maxRelativeDrop, maxTrials, ranking, biasCorrection,
                    lowered, sensitivityExamples);
        }
    }
}
