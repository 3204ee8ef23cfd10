package io.github.dl4jquant.graph;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dl4jquant.observer.ObserverState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a {@link PreparedModel}'s calibration has accumulated, without the model: one {@link ObserverState} per
 * distinct observer (keyed by the first tensor it observes; observers shared by several tensors appear once), the
 * rank of every observed tensor, and the batch and example counts. Shards of the data calibrated elsewhere (Spark
 * partitions) send this back; merged states are loaded into the prepared model that is converted.
 *
 * <pre>{@code
 * shard.resetCalibration().calibrate(shardBatches);
 * byte[] wire = shard.calibrationState().toBytes();           // a few KB: statistics only
 * CalibrationState all = CalibrationState.fromBytes(wire).merge(otherShardState);
 * prepared.loadCalibrationState(all);                          // as if prepared had seen both shards
 * ComputationGraph int8 = Quantizer.convert(prepared);
 * }</pre>
 *
 * <p>Merging follows {@link io.github.dl4jquant.observer.Observer#merge}: exact for min/max observers, in any order;
 * histograms over one grid add exactly, histograms over different ranges are re-binned (see {@link
 * #withEmptyHistogramsOverObservedRanges()} for an exact second pass). Immutable.
 */
public final class CalibrationState {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAGIC = 0x44514353; // "DQCS"
    private static final int VERSION = 1;

    private final Map<String, ObserverState> observers;
    private final Map<String, Integer> ranks;
    private final long batches;
    private final long examples;

    /**
     * @param observers one state per distinct observer, keyed by the first tensor (vertex or network input) it observes
     * @param ranks     the rank of each observed tensor during calibration (empty before any batch)
     * @param batches   calibration batches seen
     * @param examples  calibration examples seen
     */
    public CalibrationState(Map<String, ObserverState> observers, Map<String, Integer> ranks, long batches,
                            long examples) {
        this.observers = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(observers,
                "observers")));
        this.ranks = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(ranks, "ranks")));
        if (batches < 0 || examples < 0) {
            throw new IllegalArgumentException("CalibrationState: batches and examples must be >= 0; got batches="
                    + batches + ", examples=" + examples);
        }
        this.batches = batches;
        this.examples = examples;
    }

    /** The observer states by the first tensor each observer observes, in the prepared model's order. */
    public Map<String, ObserverState> observers() {
        return observers;
    }

    /** The rank of each observed tensor ([batch, features] is 2, NCHW 4). */
    public Map<String, Integer> ranks() {
        return ranks;
    }

    public long batches() {
        return batches;
    }

    public long examples() {
        return examples;
    }

    /**
     * The state of one prepared model that saw this state's data and {@code other}'s.
     *
     * @throws IllegalArgumentException if the two come from differently prepared models (other observers, other
     *                                  settings, other tensor ranks)
     */
    public CalibrationState merge(CalibrationState other) {
        if (!observers.keySet().equals(other.observers.keySet())) {
            throw new IllegalArgumentException("CalibrationState.merge: the states come from differently prepared "
                    + "models: observers " + observers.keySet() + " vs " + other.observers.keySet()
                    + "; prepare both with the same model, QConfigMapping and BackendConfig");
        }
        Map<String, ObserverState> merged = new LinkedHashMap<>();
        for (Map.Entry<String, ObserverState> e : observers.entrySet()) {
            try {
                merged.put(e.getKey(), e.getValue().merge(other.observers.get(e.getKey())));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("CalibrationState.merge: observer of tensor '" + e.getKey() + "': "
                        + ex.getMessage(), ex);
            }
        }
        Map<String, Integer> allRanks = new LinkedHashMap<>(ranks);
        for (Map.Entry<String, Integer> e : other.ranks.entrySet()) {
            Integer mine = allRanks.putIfAbsent(e.getKey(), e.getValue());
            if (mine != null && !mine.equals(e.getValue())) {
                throw new IllegalArgumentException("CalibrationState.merge: tensor '" + e.getKey() + "' had rank "
                        + mine + " in one state and " + e.getValue() + " in the other: calibrate every shard with "
                        + "data of the same shape");
            }
        }
        return new CalibrationState(merged, allRanks, batches + other.batches, examples + other.examples);
    }

    /**
     * The starting point of an exact second pass for histogram observers: every histogram-based observer that saw
     * data gets an empty histogram spanning exactly the range it observed, every other observer no statistics, and
     * the counts zero. Shards that load it and observe the same data again bin every value into one fixed grid, so
     * their merged histograms do not depend on how the data was split (see {@code HistogramObserver}).
     */
    public CalibrationState withEmptyHistogramsOverObservedRanges() {
        Map<String, ObserverState> seeded = new LinkedHashMap<>();
        for (Map.Entry<String, ObserverState> e : observers.entrySet()) {
            ObserverState s = e.getValue();
            seeded.put(e.getKey(), s.histogram().length > 0 ? s.withEmptyHistogramOverObservedRange()
                    : ObserverState.builder(s.settings()).build());
        }
        return new CalibrationState(seeded, ranks, 0, 0);
    }

    /** True when some observer keeps a histogram (its merge of differently ranged shards re-bins). */
    public boolean hasHistograms() {
        return observers.values().stream().anyMatch(s -> s.histogram().length > 0);
    }

    // ------------------------------------------------------------------------------------------------ JSON

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> obs = new LinkedHashMap<>();
        observers.forEach((k, v) -> obs.put(k, v.toMap()));
        m.put("observers", obs);
        m.put("ranks", ranks);
        m.put("batches", batches);
        m.put("examples", examples);
        return m;
    }

    @SuppressWarnings("unchecked")
    public static CalibrationState fromMap(Map<String, ?> m) {
        Object obs = m.get("observers");
        Object rk = m.containsKey("ranks") ? m.get("ranks") : Map.of();
        if (!(obs instanceof Map) || !(rk instanceof Map)) {
            throw new IllegalArgumentException("CalibrationState: 'observers' and 'ranks' must be objects; got "
                    + obs + " and " + rk);
        }
        Map<String, ObserverState> observers = new LinkedHashMap<>();
        ((Map<String, ?>) obs).forEach((k, v) -> {
            if (!(v instanceof Map)) {
                throw new IllegalArgumentException("CalibrationState: observer '" + k + "' must be an object; got "
                        + v);
            }
            observers.put(k, ObserverState.fromMap((Map<String, ?>) v));
        });
        Map<String, Integer> ranks = new LinkedHashMap<>();
        ((Map<String, ?>) rk).forEach((k, v) -> ranks.put(k, ((Number) v).intValue()));
        return new CalibrationState(observers, ranks, count(m, "batches"), count(m, "examples"));
    }

    private static long count(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v != null && !(v instanceof Number)) {
            throw new IllegalArgumentException("CalibrationState: '" + key + "' must be a number; got " + v);
        }
        return v == null ? 0 : ((Number) v).longValue();
    }

    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toMap());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("CalibrationState could not be written as JSON: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    public static CalibrationState fromJson(String json) {
        try {
            return fromMap(JSON.readValue(json, Map.class));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("CalibrationState.fromJson: not valid JSON: " + e.getOriginalMessage(),
                    e);
        }
    }

    // ---------------------------------------------------------------------------------------------- binary

    /** The compact binary form: the counts, the ranks, then each observer's {@link ObserverState#writeTo} form. */
    public byte[] toBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeByte(VERSION);
            out.writeLong(batches);
            out.writeLong(examples);
            out.writeInt(ranks.size());
            for (Map.Entry<String, Integer> e : ranks.entrySet()) {
                out.writeUTF(e.getKey());
                out.writeInt(e.getValue());
            }
            out.writeInt(observers.size());
            for (Map.Entry<String, ObserverState> e : observers.entrySet()) {
                out.writeUTF(e.getKey());
                e.getValue().writeTo(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static CalibrationState fromBytes(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int magic = in.readInt();
            if (magic != MAGIC || in.readByte() != VERSION) {
                throw new IllegalArgumentException("CalibrationState.fromBytes: not a calibration state of format "
                        + "version " + VERSION + " (magic 0x" + Integer.toHexString(magic) + ")");
            }
            long batches = in.readLong();
            long examples = in.readLong();
            Map<String, Integer> ranks = new LinkedHashMap<>();
            for (int i = in.readInt(); i > 0; i--) {
                ranks.put(in.readUTF(), in.readInt());
            }
            Map<String, ObserverState> observers = new LinkedHashMap<>();
            for (int i = in.readInt(); i > 0; i--) {
                observers.put(in.readUTF(), ObserverState.readFrom(in));
            }
            if (in.available() > 0) {
                throw new IllegalArgumentException("CalibrationState.fromBytes: " + in.available()
                        + " trailing byte(s)");
            }
            return new CalibrationState(observers, ranks, batches, examples);
        } catch (IOException e) {
            throw new IllegalArgumentException("CalibrationState.fromBytes: truncated or not a calibration state ("
                    + e.getMessage() + ")", e);
        }
    }

    // ---------------------------------------------------------------------------------------------- value

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof CalibrationState)) {
            return false;
        }
        CalibrationState s = (CalibrationState) o;
        return observers.equals(s.observers) && ranks.equals(s.ranks) && batches == s.batches
                && examples == s.examples;
    }

    @Override
    public int hashCode() {
        return Objects.hash(observers, ranks, batches, examples);
    }

    @Override
    public String toString() {
        return "CalibrationState{" + observers.size() + " observer(s) " + observers.keySet() + ", " + batches
                + " batch(es), " + examples + " example(s)}";
    }
}
