package io.github.dl4jquant.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.dl4jquant.backendconfig.BackendConfig;

/**
 * {@code BackendConfig.fromJson} on arbitrary text: it either returns a config that survives a JSON round trip
 * unchanged, or throws an {@link IllegalArgumentException}. Any other exception (NullPointerException,
 * ClassCastException, NumberFormatException, ...) is a finding. Seeds: {@code BackendConfigFuzzTestInputs/fromJson}.
 */
class BackendConfigFuzzTest {

    @FuzzTest
    void fromJson(FuzzedDataProvider data) {
        String json = data.consumeRemainingAsString();
        BackendConfig config;
        try {
            config = BackendConfig.fromJson(json);
        } catch (IllegalArgumentException expected) {
            FuzzChecks.requireMessage(expected);
            return;
        }
        assertEquals(config, BackendConfig.fromJson(config.toJson()), "round trip of " + json);
    }
}
