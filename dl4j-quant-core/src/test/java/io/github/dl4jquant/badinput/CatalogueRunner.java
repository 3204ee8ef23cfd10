package io.github.dl4jquant.badinput;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.DynamicTest;

/** Runs catalogue rows as JUnit dynamic tests: one test per row, named by its area and bad input. */
public final class CatalogueRunner {

    private CatalogueRunner() {
    }

    public static Stream<DynamicTest> tests(List<BadInputCase> cases) {
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.area() + ": " + c.name(), () -> check(c)));
    }

    /** Runs the row's action and checks the exception, its message and the untouched models. */
    public static void check(BadInputCase c) {
        assertNotNull(c.expected(), c.name() + ": the row names no expected exception");
        assertFalse(c.names().isEmpty() || c.fix().isEmpty(), c.name() + ": the row must list what the message names "
                + "and the fix it gives");
        List<ModelSnapshot> before = new ArrayList<>();
        for (Supplier<? extends Model> m : c.untouched()) {
            before.add(ModelSnapshot.of(m.get()));
        }
        Throwable thrown = null;
        try {
            c.action().run();
        } catch (Throwable t) {
            thrown = t;
        }
        if (thrown == null) {
            fail(c.name() + ": expected " + c.expected().getSimpleName() + ", but nothing was thrown");
        }
        if (!c.expected().isInstance(thrown)) {
            throw new AssertionError(c.name() + ": expected " + c.expected().getSimpleName() + ", got "
                    + thrown.getClass().getName() + ": " + thrown.getMessage(), thrown);
        }
        String message = String.valueOf(thrown.getMessage());
        for (String fragment : concat(c.names(), c.fix())) {
            assertTrue(message.contains(fragment), c.name() + ": message lacks '" + fragment + "': " + message);
        }
        before.forEach(s -> s.assertUnchanged(c.name()));
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
