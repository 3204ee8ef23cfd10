package io.github.dl4jquant.observer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The statistics of one observer, detached from it: its settings ({@link ObserverFactory#toMap()}) and the numbers it
 * has accumulated, never the observed arrays. What lets observers calibrate shards of the data in other processes
 * (Spark executors) and be merged and restored where the model is converted. The binary form of an observer that saw
 * data is a few dozen bytes (min/max observers) to {@code 4 * bins} bytes plus the settings (histograms).
 *
 * <pre>{@code
 * Observer a = HistogramObserver.builder().reduceRange(true).build();
 * a.observe(batch);
 * byte[] wire = a.state().toBytes();                                  // or toJson()
 * Observer b = ObserverState.fromBytes(wire).restore();              // same settings, same statistics
 * ObserverState both = a.state().merge(otherShard.state());           // what a.merge(otherShard) computes
 * }</pre>
 *
 * <p>Fields, empty when they do not apply: {@code minVal}/{@code maxVal} the running range per channel (length 1 per
 * tensor; for histogram observers the histogram's range), {@code axis} the channel axis (-1 per tensor),
 * {@code batches} the batch count moving averages weight merges by, {@code histogram} the bin counts and
 * {@code observedRange} the finite range of the values a histogram observer actually saw (its histogram range grows
 * in steps and may extend beyond it). Immutable; arrays are copied in and out.
 */
public final class ObserverState {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAGIC = 0x44514F53; // "DQOS"
    private static final int VERSION = 1;
    private static final float[] NONE = new float[0];

    private final Map<String, Object> settings;
    private final float[] minVal;
    private final float[] maxVal;
    private final int axis;
    private final long batches;
    private final float[] histogram;
    private final float[] observedRange;

    private ObserverState(Builder b) {
        this.settings = canonicalSettings(b.settings);
        this.minVal = b.minVal.clone();
        this.maxVal = b.maxVal.clone();
        this.axis = b.axis;
        this.batches = b.batches;
        this.histogram = b.histogram.clone();
        this.observedRange = b.observedRange.clone();
        if (minVal.length != maxVal.length) {
            throw new IllegalArgumentException("ObserverState of " + settings.get("name") + ": min_val has "
                    + minVal.length + " value(s) but max_val " + maxVal.length);
        }
        if (observedRange.length != 0 && observedRange.length != 2) {
            throw new IllegalArgumentException("ObserverState of " + settings.get("name")
                    + ": observed_range must be empty or [min, max]; got " + observedRange.length + " value(s)");
        }
        if (batches < 0) {
            throw new IllegalArgumentException("ObserverState of " + settings.get("name")
                    + ": batches must be >= 0; got " + batches);
        }
    }

    /** Settings as the factory gives them, so that states from JSON compare equal to those made in memory. */
    private static Map<String, Object> canonicalSettings(Map<String, ?> settings) {
        Objects.requireNonNull(settings, "settings");
        return java.util.Collections.unmodifiableMap(new LinkedHashMap<>(ObserverFactories.fromMap(settings).toMap()));
    }

    /** A builder for a state with the given settings and no statistics. */
    public static Builder builder(Map<String, ?> settings) {
        return new Builder(settings);
    }

    /** The observer's settings, as {@link ObserverFactory#toMap()} gives them. */
    public Map<String, Object> settings() {
        return settings;
    }

    /** The name the settings are registered under in {@link ObserverFactories}. */
    public String observerName() {
        return String.valueOf(settings.get("name"));
    }

    public float[] minVal() {
        return minVal.clone();
    }

    public float[] maxVal() {
        return maxVal.clone();
    }

    public int axis() {
        return axis;
    }

    public long batches() {
        return batches;
    }

    public float[] histogram() {
        return histogram.clone();
    }

    public float[] observedRange() {
        return observedRange.clone();
    }

    /** True when the state holds statistics (some range was observed). */
    public boolean hasStatistics() {
        return minVal.length > 0;
    }

    /** A builder initialised with this state, to derive a changed copy. */
    public Builder toBuilder() {
        return new Builder(settings).minVal(minVal).maxVal(maxVal).axis(axis).batches(batches).histogram(histogram)
                .observedRange(observedRange);
    }

    /** A new observer with these settings and statistics. */
    public Observer restore() {
        Observer o = ObserverFactories.fromMap(settings).create();
        o.loadState(this);
        return o;
    }

    /**
     * The state of one observer that merged this state's observer with {@code other}'s ({@link Observer#merge}).
     *
     * @throws IllegalArgumentException if the two have different settings
     */
    public ObserverState merge(ObserverState other) {
        Observer mine = restore();
        mine.merge(other.restore());
        return mine.state();
    }

    /**
     * For histogram-based observers that saw data: the same settings with an empty histogram spanning exactly the
     * observed range, so that a second pass over the same data bins every value into one fixed grid and the shards'
     * counts add exactly (see {@link HistogramObserver}). Other states are returned as they are.
     */
    public ObserverState withEmptyHistogramOverObservedRange() {
        if (histogram.length == 0 || observedRange.length == 0) {
            return this;
        }
        return toBuilder().minVal(new float[] {observedRange[0]}).maxVal(new float[] {observedRange[1]})
                .histogram(new float[histogram.length]).build();
    }

    // ------------------------------------------------------------------------------------------------ JSON

    /** The state as a JSON-friendly map ({@code "settings"}, {@code "min_val"}, ...). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("settings", settings);
        m.put("min_val", floatList(minVal));
        m.put("max_val", floatList(maxVal));
        m.put("axis", axis);
        m.put("batches", batches);
        m.put("histogram", floatList(histogram));
        m.put("observed_range", floatList(observedRange));
        return m;
    }

    /** Reads {@link #toMap()} output (also after a JSON round trip). */
    @SuppressWarnings("unchecked")
    public static ObserverState fromMap(Map<String, ?> m) {
        Objects.requireNonNull(m, "m");
        Object settings = m.get("settings");
        if (!(settings instanceof Map)) {
            throw new IllegalArgumentException("ObserverState: 'settings' must be an object with the observer's "
                    + "name and options; got " + settings);
        }
        return new Builder((Map<String, ?>) settings)
                .minVal(floats(m, "min_val")).maxVal(floats(m, "max_val"))
                .axis((int) number(m, "axis", -1))
                .batches(number(m, "batches", 0))
                .histogram(floats(m, "histogram")).observedRange(floats(m, "observed_range")).build();
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("ObserverState could not be written as JSON: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    public static ObserverState fromJson(String json) {
        try {
            return fromMap(JSON.readValue(json, Map.class));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("ObserverState.fromJson: not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static List<Float> floatList(float[] v) {
        Float[] boxed = new Float[v.length];
        for (int i = 0; i < v.length; i++) {
            boxed[i] = v[i];
        }
        return Arrays.asList(boxed);
    }

    private static long number(Map<String, ?> m, String key, long absent) {
        Object v = m.get(key);
        if (v == null) {
            return absent;
        }
        if (!(v instanceof Number)) {
            throw new IllegalArgumentException("ObserverState: '" + key + "' must be a number; got " + v);
        }
        return ((Number) v).longValue();
    }

    private static float[] floats(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            return NONE;
        }
        if (!(v instanceof List)) {
            throw new IllegalArgumentException("ObserverState: '" + key + "' must be a list of numbers; got " + v);
        }
        List<?> list = (List<?>) v;
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object e = list.get(i);
            if (!(e instanceof Number)) {
                throw new IllegalArgumentException("ObserverState: '" + key + "'[" + i + "] must be a number; got "
                        + e);
            }
            out[i] = ((Number) e).floatValue();
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------- binary

    /** The compact binary form: the settings as JSON, then the arrays as raw floats. */
    public byte[] toBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + 4 * (histogram.length + 2 * minVal.length));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static ObserverState fromBytes(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            ObserverState s = readFrom(in);
            if (in.available() > 0) {
                throw new IllegalArgumentException("ObserverState.fromBytes: " + in.available()
                        + " trailing byte(s) after the state");
            }
            return s;
        } catch (IOException e) {
            throw new IllegalArgumentException("ObserverState.fromBytes: truncated or not an observer state ("
                    + e.getMessage() + ")", e);
        }
    }

    /** Writes the binary form to {@code out} (for containers of several states). */
    public void writeTo(DataOutputStream out) throws IOException {
        out.writeInt(MAGIC);
        out.writeByte(VERSION);
        out.writeUTF(JSON.writeValueAsString(settings));
        writeFloats(out, minVal);
        writeFloats(out, maxVal);
        out.writeInt(axis);
        out.writeLong(batches);
        writeFloats(out, histogram);
        writeFloats(out, observedRange);
    }

    /** Reads what {@link #writeTo} wrote. */
    @SuppressWarnings("unchecked")
    public static ObserverState readFrom(DataInputStream in) throws IOException {
        int magic = in.readInt();
        if (magic != MAGIC) {
            throw new IllegalArgumentException("ObserverState: not an observer state (magic 0x"
                    + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(MAGIC) + ")");
        }
        int version = in.readByte();
        if (version != VERSION) {
            throw new IllegalArgumentException("ObserverState: format version " + version + " is not supported; "
                    + "this library reads version " + VERSION);
        }
        Map<String, ?> settings = JSON.readValue(in.readUTF(), Map.class);
        return new Builder(settings).minVal(readFloats(in)).maxVal(readFloats(in)).axis(in.readInt())
                .batches(in.readLong()).histogram(readFloats(in)).observedRange(readFloats(in)).build();
    }

    private static void writeFloats(DataOutputStream out, float[] v) throws IOException {
        out.writeInt(v.length);
        for (float f : v) {
            out.writeInt(Float.floatToRawIntBits(f));
        }
    }

    private static float[] readFloats(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > (1 << 28)) {
            throw new IllegalArgumentException("ObserverState: corrupt array length " + n);
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = Float.intBitsToFloat(in.readInt());
        }
        return v;
    }

    // ---------------------------------------------------------------------------------------------- value

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ObserverState)) {
            return false;
        }
        ObserverState s = (ObserverState) o;
        return settings.equals(s.settings) && Arrays.equals(minVal, s.minVal) && Arrays.equals(maxVal, s.maxVal)
                && axis == s.axis && batches == s.batches && Arrays.equals(histogram, s.histogram)
                && Arrays.equals(observedRange, s.observedRange);
    }

    @Override
    public int hashCode() {
        return Objects.hash(settings, Arrays.hashCode(minVal), Arrays.hashCode(maxVal), axis, batches,
                Arrays.hashCode(histogram), Arrays.hashCode(observedRange));
    }

    @Override
    public String toString() {
        return "ObserverState" + settings + (hasStatistics() ? " min_val=" + Arrays.toString(minVal) + " max_val="
                + Arrays.toString(maxVal) : " (no statistics)") + (axis >= 0 ? " axis=" + axis : "")
                + (batches > 0 ? " batches=" + batches : "")
                + (histogram.length > 0 ? " histogram[" + histogram.length + "]" : "");
    }

    /**
     * Fluent construction of an {@link ObserverState}; observers fill in the fields they keep.
     *
     * <pre>{@code
     * ObserverState s = ObserverState.builder(MinMaxObserver.builder().toMap())
     *         .minVal(new float[] {-1f}).maxVal(new float[] {2f}).build();
     * }</pre>
     */
    public static final class Builder {
        private final Map<String, ?> settings;
        private float[] minVal = NONE;
        private float[] maxVal = NONE;
        private int axis = -1;
        private long batches;
        private float[] histogram = NONE;
        private float[] observedRange = NONE;

        private Builder(Map<String, ?> settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
        }

        public Builder minVal(float[] v) {
            this.minVal = Objects.requireNonNull(v, "minVal");
            return this;
        }

        public Builder maxVal(float[] v) {
            this.maxVal = Objects.requireNonNull(v, "maxVal");
            return this;
        }

        public Builder axis(int axis) {
            this.axis = axis;
            return this;
        }

        public Builder batches(long batches) {
            this.batches = batches;
            return this;
        }

        public Builder histogram(float[] counts) {
            this.histogram = Objects.requireNonNull(counts, "histogram");
            return this;
        }

        public Builder observedRange(float[] range) {
            this.observedRange = Objects.requireNonNull(range, "observedRange");
            return this;
        }

        public ObserverState build() {
            return new ObserverState(this);
        }
    }
}
