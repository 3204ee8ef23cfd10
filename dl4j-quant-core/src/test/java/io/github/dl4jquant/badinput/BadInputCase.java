package io.github.dl4jquant.badinput;

import java.util.List;
import java.util.function.Supplier;
import org.deeplearning4j.nn.api.Model;

/**
 * One row of a bad-input catalogue: what the user does wrong, the exception that must come out, the words its message
 * must contain (what is wrong: the field, layer or value; and the fix), and the user's models that must be unchanged
 * afterwards. Rows are built fluently so that a catalogue reads as a list:
 *
 * <pre>{@code
 * BadInputCase.of("calibration", "a NaN in a calibration batch", () -> prepared().calibrate(nan))
 *         .throwsA(IllegalArgumentException.class).naming("NaN", "index 5").fix("clean the data")
 *         .untouched(() -> model);
 * }</pre>
 *
 * @param area      the group the row is listed under
 * @param name      the bad input, in words
 * @param action    what the user calls
 * @param expected  the exception type (exactly this class or a subclass)
 * @param names     what the message must name: the field, layer or value
 * @param fix       what the message must say to do
 * @param untouched the user's models, read before and after the action
 */
public record BadInputCase(String area, String name, Action action, Class<? extends Throwable> expected,
                           List<String> names, List<String> fix, List<Supplier<? extends Model>> untouched) {

    /** The user's call, which may throw anything. */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    public static BadInputCase of(String area, String name, Action action) {
        return new BadInputCase(area, name, action, null, List.of(), List.of(), List.of());
    }

    public BadInputCase throwsA(Class<? extends Throwable> type) {
        return new BadInputCase(area, name, action, type, names, fix, untouched);
    }

    public BadInputCase naming(String... fragments) {
        return new BadInputCase(area, name, action, expected, List.of(fragments), fix, untouched);
    }

    public BadInputCase fix(String... fragments) {
        return new BadInputCase(area, name, action, expected, names, List.of(fragments), untouched);
    }

    @SafeVarargs
    public final BadInputCase untouched(Supplier<? extends Model>... models) {
        return new BadInputCase(area, name, action, expected, names, fix, List.of(models));
    }
}
