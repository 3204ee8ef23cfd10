package io.github.dl4jquant.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.dl4jquant.qconfig.QConfigMapping;

/**
 * {@code QConfigMapping.fromJson} on arbitrary text: a mapping that survives a JSON round trip, or an
 * {@link IllegalArgumentException}; anything else is a finding. Seeds: {@code QConfigMappingFuzzTestInputs/fromJson}.
 */
class QConfigMappingFuzzTest {

    @FuzzTest
    void fromJson(FuzzedDataProvider data) {
        String json = data.consumeRemainingAsString();
        QConfigMapping mapping;
        try {
            mapping = QConfigMapping.fromJson(json);
        } catch (IllegalArgumentException expected) {
            FuzzChecks.requireMessage(expected);
            return;
        }
        assertEquals(mapping, QConfigMapping.fromJson(mapping.toJson()), "round trip of " + json);
    }
}
