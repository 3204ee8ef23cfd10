package io.github.dl4jquant;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.IOException;
import java.util.Map;

/**
 * The one JSON dialect of the configuration classes ({@code BackendConfig}, {@code QConfigMapping}, ...):
 * {@code toDict()} maps written with two-space indentation, one item per line and {@code "\n"} line ends on every
 * OS, so that files diff cleanly in version control; read back strictly (duplicate keys and trailing tokens are
 * errors), with syntax errors naming the line and column.
 *
 * <pre>{@code
 * String json = Json.write(config.toDict());
 * Object dict = Json.read(json, "BackendConfig");   // a Map, List, String, Number, Boolean or null
 * }</pre>
 */
public final class Json {

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final ObjectWriter WRITER = MAPPER.writer(prettyPrinter());

    private Json() {
    }

    private static DefaultPrettyPrinter prettyPrinter() {
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter p = new KeyColonValuePrinter();
        p.indentObjectsWith(indenter);
        p.indentArraysWith(indenter);
        return p;
    }

    /**
     * Jackson's pretty printer with {@code "key": value} instead of {@code "key" : value}, through the API of
     * Jackson 2.15 as well (Spark 3.5 pins it; {@code Separators.Spacing} only arrived in 2.16).
     */
    private static final class KeyColonValuePrinter extends DefaultPrettyPrinter {
        private static final long serialVersionUID = 1L;

        KeyColonValuePrinter() {
        }

        private KeyColonValuePrinter(KeyColonValuePrinter base) {
            super(base);
        }

        @Override
        public DefaultPrettyPrinter createInstance() {
            return new KeyColonValuePrinter(this);
        }

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }
    }

    public static String write(Map<String, Object> dict) {
        try {
            return WRITER.writeValueAsString(dict);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Could not write JSON for " + dict, e);
        }
    }

    /** Parses {@code json}; syntax errors name the line and column so that hand-edited files are easy to fix. */
    public static Object read(String json, String owner) {
        if (json == null) {
            throw new IllegalArgumentException(owner + " JSON: got null; accepted: a JSON object as written by "
                    + owner + ".toJson()");
        }
        try {
            return MAPPER.readValue(json, Object.class);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new IllegalArgumentException("Invalid " + owner + " JSON" + where + ": " + e.getOriginalMessage(),
                    e);
        }
    }
}
