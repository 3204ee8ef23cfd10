package io.github.dl4jquant.qconfig;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
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
        Objects.requireNonNull(regex, "regex");
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
     */
    public static QConfigMapping fromDict(Map<String, ?> d) {
        QConfigMapping m = new QConfigMapping();
        for (Map.Entry<String, ?> e : d.entrySet()) {
            switch (e.getKey()) {
                case GLOBAL:
                    m.setGlobal(qconfig(e.getValue()));
                    break;
                case OBJECT_TYPE:
                    for (List<?> row : rows(e.getValue(), 2, OBJECT_TYPE)) {
                        m.setObjectType(type(row.get(0)), qconfig(row.get(1)));
                    }
                    break;
                case MODULE_NAME_REGEX:
                    for (List<?> row : rows(e.getValue(), 2, MODULE_NAME_REGEX)) {
                        m.setModuleNameRegex(String.valueOf(row.get(0)), qconfig(row.get(1)));
                    }
                    break;
                case MODULE_NAME:
                    for (List<?> row : rows(e.getValue(), 2, MODULE_NAME)) {
                        m.setModuleName(String.valueOf(row.get(0)), qconfig(row.get(1)));
                    }
                    break;
                case MODULE_NAME_OBJECT_TYPE_ORDER:
                    for (List<?> row : rows(e.getValue(), 4, MODULE_NAME_OBJECT_TYPE_ORDER)) {
                        m.setModuleNameObjectTypeOrder(String.valueOf(row.get(0)), type(row.get(1)),
                                ((Number) row.get(2)).intValue(), qconfig(row.get(3)));
                    }
                    break;
                default:
                    throw new IllegalArgumentException("QConfigMapping.fromDict: unknown key '" + e.getKey()
                            + "'; accepted: \"\", object_type, module_name_regex, module_name, "
                            + "module_name_object_type_order");
            }
        }
        return m;
    }

    /** {@link #toDict()} as pretty-printed JSON. */
    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toDict());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("QConfigMapping could not be written as JSON: " + e.getMessage(), e);
        }
    }

    /** Reads {@link #toJson()} output. */
    @SuppressWarnings("unchecked")
    public static QConfigMapping fromJson(String json) {
        try {
            return fromDict(JSON.readValue(json, Map.class));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("QConfigMapping.fromJson: not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static Map<String, Object> map(QConfig q) {
        return q == null ? null : q.toMap();
    }

    @SuppressWarnings("unchecked")
    private static QConfig qconfig(Object v) {
        if (v == null || v instanceof QConfig) {
            return (QConfig) v;
        }
        if (v instanceof Map) {
            return QConfig.fromMap((Map<String, ?>) v);
        }
        throw new IllegalArgumentException("QConfigMapping: expected a QConfig map or null; got " + v);
    }

    private static List<List<?>> rows(Object v, int width, String key) {
        if (!(v instanceof List)) {
            throw new IllegalArgumentException("QConfigMapping: '" + key + "' must be a list; got " + v);
        }
        List<List<?>> out = new ArrayList<>();
        for (Object row : (List<?>) v) {
            if (!(row instanceof List) || ((List<?>) row).size() != width) {
                throw new IllegalArgumentException("QConfigMapping: each '" + key + "' entry must be a list of "
                        + width + " values; got " + row);
            }
            out.add((List<?>) row);
        }
        return out;
    }

    private static Class<?> type(Object v) {
        if (v instanceof Class) {
            return (Class<?>) v;
        }
        String name = String.valueOf(v);
        for (String candidate : new String[] {name, "org.deeplearning4j.nn.conf.layers." + name,
                "org.deeplearning4j.nn.conf.graph." + name}) {
            try {
                return Class.forName(candidate, false, QConfigMapping.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                // try the next candidate
            }
        }
        throw new IllegalArgumentException("QConfigMapping: unknown layer/vertex class '" + name
                + "'; use a fully qualified class name on the class path");
    }

    private static Class<?> requireType(Class<?> type) {
        if (type == null) {
            throw new IllegalArgumentException("QConfigMapping: object type must not be null");
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
