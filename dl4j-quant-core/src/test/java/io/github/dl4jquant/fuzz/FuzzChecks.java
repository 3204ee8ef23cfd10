package io.github.dl4jquant.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every expected rejection of a fuzzed input must carry: a message to show the user. */
public final class FuzzChecks {

    private FuzzChecks() {
    }

    /** Fails (a finding) when {@code e} has no message: a rejection the user cannot act on. */
    public static void requireMessage(IllegalArgumentException e) {
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "an IllegalArgumentException without a "
                + "message: " + e);
    }
}
