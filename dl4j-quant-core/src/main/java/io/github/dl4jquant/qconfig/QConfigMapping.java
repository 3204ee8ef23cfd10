package io.github.dl4jquant.qconfig;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dl4jquant.Json;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.layers.Layer;

/**
 * Which {@link QConfig} each vertex (layer) of a DL4J model gets: PyTorch's {@code QConfigMapping}, with the same
 * precedence, highest first: {@code module_name_object_type_order} &gt; {@code module_name} &gt;
 * {@code module_name_regex} &gt; {@code object_type} &gt; {@code global}. A {@code null} QConfig means "keep this
 * layer in fp32".
 *
 * <pre>{@code
 * QConfigMapping m = new QConfigMapping()
 *         .setGlobal(QConfigs.getDefaultQConfig("x86"))
 *         .setObjectType(OutputLayer.class, null)             // keep the classifier in fp32
 *         .setModuleNameRegex("enc.*", encoderQConfig)          // Java regex, matched at the start like re.match
 *         .setModuleName("dense_3", null);
 * QConfigMapping.Resolution r = m.resolve("dense_3", DenseLayer.class, 2);
 * r.qconfig();   // null
 * r.source();    // "module_name 'dense_3'"
 * String json = m.toJson();
 * }</pre>
 *
 * <p>DL4J graphs are flat, so names are vertex names and (unlike PyTorch) a module name does not also cover
 * "children" with a dotted prefix. Object types match exactly on the layer/vertex configuration class, as PyTorch's
 * {@code type(module)}. In {@code setModuleNameObjectTypeOrder} the name is a vertex name, or {@code ""} for the whole
 * graph (PyTorch's root module): {@code ("", DenseLayer.class, 2, q)} is "the third DenseLayer of the graph".
 * Re-setting a regex keeps its original position (first registered regex that matches wins).
 */
public final class QConfigMapping {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GLOBAL = "";
    private static final String OBJECT_TYPE = "object_type";
    private static final String MODULE_NAME_REGEX = "module_name_regex";
    private static final String MODULE_NAME = "module_name";
    private static final String MODULE_NAME_OBJECT_TYPE_ORDER = "module_name_object_type_order";
    private static final List<String> KEYS = List.of(GLOBAL, OBJECT_TYPE, MODULE_NAME_REGEX, MODULE_NAME,
            MODULE_NAME_OBJECT_TYPE_ORDER);
    private static final Map<String, String> ROW_LAYOUTS = Map.of(
            OBJECT_TYPE, "[className, qconfig]",
            MODULE_NAME_REGEX, "[regex, qconfig]",
            MODULE_NAME, "[vertexName, qconfig]",
            MODULE_NAME_OBJECT_TYPE_ORDER, "[vertexName, className, index, qconfig]");

    private boolean globalSet;
    private QConfig globalQConfig;
    private final Map<Class<?>, QConfig> objectTypes = new LinkedHashMap<>();
    private final Map<String, QConfig> moduleNameRegexes = new LinkedHashMap<>();
    private final Map<String, Pattern> compiledRegexes = new LinkedHashMap<>();
    private final Map<String, QConfig> moduleNames = new LinkedHashMap<>();
    private final Map<OrderKey, QConfig> moduleNameObjectTypeOrders = new LinkedHashMap<>();

    /**
     * The QConfig chosen for one vertex, and why.
     *
     * <pre>{@code
     * Resolution r = mapping.resolve("dense_1", DenseLayer.class, 0);
     * if (r.qconfig() == null) log.info("dense_1 stays fp32 ({})", r.source());
     * }</pre>
     *
     * @param qconfig the QConfig, or {@code null} to keep the vertex in fp32
     * @param source  which entry decided, e.g. {@code "global"}, {@code "object_type DenseLayer"}, {@code
     *                "module_name 'd1'"}, {@code "module_name_regex 'd.*'"}, or {@code "none"} (nothing applies)
     */
    public record Resolution(QConfig qconfig, String source) {
    }

    private record OrderKey(String moduleName, Class<?> objectType, int index) {
        @Override
        public String toString() {
            return "('" + moduleName + "', " + objectType.getSimpleName() + ", " + index + ")";
        }
    }

    /** The QConfig for every vertex not matched by a more specific entry ({@code null}: fp32). */
    public QConfigMapping setGlobal(QConfig qconfig) {
        globalSet = true;
        globalQConfig = qconfig;
        return this;
    }

    /** The QConfig for vertices whose layer/vertex configuration is exactly {@code type}. */
    public QConfigMapping setObjectType(Class<?> type, QConfig qconfig) {
        objectTypes.put(requireType(type), qconfig);
        return this;
    }

    /** The QConfig for vertices whose name matches {@code regex} from its start (Python's {@code re.match}). */
    public QConfigMapping setModuleNameRegex(String regex, QConfig qconfig) {
        if (regex == null) {
            throw new IllegalArgumentException("setModuleNameRegex: regex must not be null; give a Java regex "
                    + "matched from the start of the vertex name, e.g. \"enc.*\"");
        }
        try {
            compiledRegexes.put(regex, Pattern.compile(regex));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("setModuleNameRegex: invalid regex '" + regex + "': "
                    + e.getDescription(), e);
        }
        moduleNameRegexes.put(regex, qconfig);
        return this;
    }

    /** The QConfig for the vertex named {@code vertexName}. */
    public QConfigMapping setModuleName(String vertexName, QConfig qconfig) {
        moduleNames.put(requireName(vertexName), qconfig);
        return this;
    }

    /**
     * The QConfig for the {@code index}-th (from 0) vertex of configuration type {@code type}, within {@code
     * moduleName} (a vertex name, or {@code ""} for the whole graph).
     */
    public QConfigMapping setModuleNameObjectTypeOrder(String moduleName, Class<?> type, int index, QConfig qconfig) {
        Objects.requireNonNull(moduleName, "moduleName");
        if (index < 0) {
            throw new IllegalArgumentException("setModuleNameObjectTypeOrder: index must be >= 0; got " + index);
        }
        moduleNameObjectTypeOrders.put(new OrderKey(moduleName, requireType(type), index), qconfig);
        return this;
    }

    /**
     * Resolves the QConfig of one vertex.
     *
     * @param vertexName the vertex (layer) name
     * @param objectType the class of its layer or vertex configuration, e.g. {@code DenseLayer.class}
     * @param indexOfThisTypeInGraph how many vertices of {@code objectType} come before it in topological order
     */
    public Resolution resolve(String vertexName, Class<?> objectType, int indexOfThisTypeInGraph) {
        for (Map.Entry<OrderKey, QConfig> e : moduleNameObjectTypeOrders.entrySet()) {
            OrderKey k = e.getKey();
            if ((k.moduleName().isEmpty() || k.moduleName().equals(vertexName)) && k.objectType() == objectType
                    && k.index() == indexOfThisTypeInGraph) {
                return new Resolution(e.getValue(), MODULE_NAME_OBJECT_TYPE_ORDER + " " + k);
            }
        }
        if (moduleNames.containsKey(vertexName)) {
            return new Resolution(moduleNames.get(vertexName), MODULE_NAME + " '" + vertexName + "'");
        }
        for (Map.Entry<String, Pattern> e : compiledRegexes.entrySet()) {
            if (vertexName != null && e.getValue().matcher(vertexName).lookingAt()) {
                return new Resolution(moduleNameRegexes.get(e.getKey()), MODULE_NAME_REGEX + " '" + e.getKey() + "'");
            }
        }
        if (objectType != null && objectTypes.containsKey(objectType)) {
            return new Resolution(objectTypes.get(objectType), OBJECT_TYPE + " " + objectType.getSimpleName());
        }
        return globalSet ? new Resolution(globalQConfig, "global") : new Resolution(null, "none");
    }

    /** Vertex names used by {@code setModuleName} and {@code setModuleNameObjectTypeOrder} (without {@code ""}). */
    public Set<String> explicitModuleNames() {
        Set<String> names = new LinkedHashSet<>(moduleNames.keySet());
        for (OrderKey k : moduleNameObjectTypeOrders.keySet()) {
            if (!k.moduleName().isEmpty()) {
                names.add(k.moduleName());
            }
        }
        return names;
    }

    /**
     * PyTorch's {@code to_dict()} layout with JSON-friendly values: {@code ""} (global, present only when set),
     * {@code "object_type"}: [[className, qconfig], ...], {@code "module_name_regex"}: [[regex, qconfig], ...],
     * {@code "module_name"}: [[name, qconfig], ...], {@code "module_name_object_type_order"}: [[name, className,
     * index, qconfig], ...]; each qconfig is {@link QConfig#toMap()} or {@code null}.
     */
    public Map<String, Object> toDict() {
        Map<String, Object> d = new LinkedHashMap<>();
        if (globalSet) {
            d.put(GLOBAL, map(globalQConfig));
        }
        List<Object> types = new ArrayList<>();
        objectTypes.forEach((t, q) -> types.add(Arrays.asList(t.getName(), map(q))));
        d.put(OBJECT_TYPE, types);
        List<Object> regexes = new ArrayList<>();
        moduleNameRegexes.forEach((r, q) -> regexes.add(Arrays.asList(r, map(q))));
        d.put(MODULE_NAME_REGEX, regexes);
        List<Object> names = new ArrayList<>();
        moduleNames.forEach((n, q) -> names.add(Arrays.asList(n, map(q))));
        d.put(MODULE_NAME, names);
        List<Object> orders = new ArrayList<>();
        moduleNameObjectTypeOrders.forEach((k, q) -> orders.add(
                Arrays.asList(k.moduleName(), k.objectType().getName(), k.index(), map(q))));
        d.put(MODULE_NAME_OBJECT_TYPE_ORDER, orders);
        return d;
    }

    /**
     * Rebuilds a mapping from {@link #toDict()} output; class names are resolved with this library's class loader
     * (a simple name such as {@code "DenseLayer"} is looked up in DL4J's {@code conf.layers} and {@code conf.graph}).
     *
     * @throws IllegalArgumentException naming the key and entry (e.g. {@code object_type[2]}) of anything malformed
     */
    public static QConfigMapping fromDict(Map<String, ?> d) {
        return fromDictValue(d);
    }

    private static QConfigMapping fromDictValue(Object d) {
        if (!(d instanceof Map<?, ?> dict)) {
            throw new IllegalArgumentException("QConfigMapping: expected a dictionary (JSON object) with keys "
                    + KEYS + "; got " + describe(d));
        }
        QConfigMapping m = new QConfigMapping();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            String key = String.valueOf(e.getKey());
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("QConfigMapping: unknown key '" + key + "'; accepted keys: " + KEYS);
            }
            if (key.equals(GLOBAL)) {
                m.setGlobal(qconfig(e.getValue(), "global (key \"\")"));
                continue;
            }
            List<?> rows = rows(e.getValue(), key);
            for (int i = 0; i < rows.size(); i++) {
                readRow(m, key, key + "[" + i + "]", rows.get(i));
            }
        }
        return m;
    }

    private static void readRow(QConfigMapping m, String key, String where, Object value) {
        int width = key.equals(MODULE_NAME_OBJECT_TYPE_ORDER) ? 4 : 2;
        if (!(value instanceof List<?> row) || row.size() != width) {
            throw new IllegalArgumentException("QConfigMapping " + where + ": expected a list of " + width
                    + " values " + ROW_LAYOUTS.get(key) + "; got " + describe(value));
        }
        QConfig q = qconfig(row.get(width - 1), where);
        switch (key) {
            case OBJECT_TYPE -> m.setObjectType(type(row.get(0), where), q);
            case MODULE_NAME_REGEX -> m.setModuleNameRegex(string(row.get(0), where, "a regex"), q);
            case MODULE_NAME -> m.setModuleName(string(row.get(0), where, "a vertex name"), q);
            default -> m.setModuleNameObjectTypeOrder(string(row.get(0), where, "a vertex name or \"\""),
                    type(row.get(1), where), index(row.get(2), where), q);
        }
    }

    /** {@link #toDict()} as pretty-printed JSON. */
    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toDict());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("QConfigMapping could not be written as JSON: " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@link #toJson()} output.
     *
     * @throws IllegalArgumentException for malformed JSON (with line and column) or invalid content (naming the entry)
     */
    public static QConfigMapping fromJson(String json) {
        return fromDictValue(Json.read(json, "QConfigMapping"));
    }

    private static Map<String, Object> map(QConfig q) {
        return q == null ? null : q.toMap();
    }

    private static QConfig qconfig(Object v, String where) {
        if (v == null || v instanceof QConfig) {
            return (QConfig) v;
        }
        try {
            return QConfig.fromMapValue(v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("QConfigMapping " + where + ": " + e.getMessage(), e);
        }
    }

    private static List<?> rows(Object v, String key) {
        if (!(v instanceof List<?> list)) {
            throw new IllegalArgumentException("QConfigMapping '" + key + "': expected a list of entries "
                    + ROW_LAYOUTS.get(key) + "; got " + describe(v));
        }
        return list;
    }

    private static String string(Object v, String where, String accepted) {
        if (v instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException("QConfigMapping " + where + ": expected " + accepted + " (a string); got "
                + describe(v));
    }

    private static int index(Object v, String where) {
        if ((v instanceof Integer || v instanceof Long || v instanceof Short) && ((Number) v).longValue() >= 0
                && ((Number) v).longValue() <= Integer.MAX_VALUE) {
            return ((Number) v).intValue();
        }
        throw new IllegalArgumentException("QConfigMapping " + where + ": the index must be an integer >= 0 (the "
                + "n-th vertex of that type, from 0); got " + describe(v));
    }

    private static String describe(Object v) {
        if (v == null) {
            return "null";
        }
        return v.getClass().getSimpleName() + " " + (v instanceof String s ? "\"" + s + "\"" : String.valueOf(v));
    }

    private static Class<?> type(Object v, String where) {
        if (v instanceof Class<?> c) {
            return c;
        }
        String name = string(v, where, "a layer or vertex configuration class name");
        for (String candidate : new String[] {name, "org.deeplearning4j.nn.conf.layers." + name,
                "org.deeplearning4j.nn.conf.graph." + name}) {
            try {
                return Class.forName(candidate, false, QConfigMapping.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                // try the next candidate
            }
        }
        throw new IllegalArgumentException("QConfigMapping " + where + ": unknown layer/vertex class '" + name
                + "'; use a fully qualified class name on the class path, or a simple name of DL4J's conf.layers or "
                + "conf.graph package such as \"DenseLayer\"");
    }

    /**
     * Object types match the class of a vertex's layer or vertex configuration, so any other class (a runtime layer
     * such as {@code org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer}, or a typo resolving to some class)
     * would silently never match.
     */
    private static Class<?> requireType(Class<?> type) {
        if (type == null || !(Layer.class.isAssignableFrom(type) || GraphVertex.class.isAssignableFrom(type))) {
            throw new IllegalArgumentException("QConfigMapping: object type " + (type == null ? "null"
                    : "'" + type.getName() + "'") + " is not a layer or vertex configuration class; accepted: a "
                    + "subclass of " + Layer.class.getName() + " (e.g. DenseLayer) or " + GraphVertex.class.getName()
                    + " (e.g. ElementWiseVertex)");
        }
        return type;
    }

    private static String requireName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("setModuleName: vertex name must be non-empty; got '" + name + "'");
        }
        return name;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QConfigMapping && toDict().equals(((QConfigMapping) o).toDict());
    }

    @Override
    public int hashCode() {
        return toDict().hashCode();
    }

    @Override
    public String toString() {
        return "QConfigMapping" + toDict();
    }
}
