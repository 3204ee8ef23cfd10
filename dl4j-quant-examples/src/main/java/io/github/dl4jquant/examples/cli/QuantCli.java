package io.github.dl4jquant.examples.cli;

import io.github.dl4jquant.examples.LaunchDefaults;
import io.github.dl4jquant.examples.ModelFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The command-line tool: {@code quantize}, {@code evaluate} and {@code compare} DL4J model zips (ComputationGraph or
 * MultiLayerNetwork). Bad input (missing or unreadable model, not a DL4J model, data of the wrong shape or an empty
 * folder, unknown backend, unwritable output) ends with one line on stderr and exit code {@value #BAD_INPUT}; nothing
 * is half-written.
 *
 * <pre>{@code
 * dl4j-quant quantize --model mlp.zip --calibration /usr/share/datasets/fashion-mnist --backend x86 \
 *     --mode static --out mlp-int8.zip --report report.html
 * dl4j-quant evaluate --model mlp-int8.zip --data /usr/share/datasets/fashion-mnist
 * dl4j-quant compare --fp32 mlp.zip --quantized mlp-int8.zip --data /usr/share/datasets/fashion-mnist
 * }</pre>
 */
@Command(name = "dl4j-quant", mixinStandardHelpOptions = true, version = "dl4j-quant 0.1.0",
        description = "Post-training int8 quantization of DL4J models.",
        subcommands = {QuantizeCommand.class, EvaluateCommand.class, CompareCommand.class})
public final class QuantCli implements Callable<Integer> {

    /** Exit code for bad input. */
    public static final int BAD_INPUT = 2;
    /** Exit code for an unexpected internal failure. */
    public static final int INTERNAL_ERROR = 1;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        // stderr carries the one-line error only, not ND4J's or the library's INFO logs
        LaunchDefaults.apply(false);
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the tool with the given streams and returns the exit code (0, 1 or {@value #BAD_INPUT}). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new QuantCli());
        cli.setOut(out).setErr(err);
        cli.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("dl4j-quant: " + ModelFiles.oneLine(ex));
            return BAD_INPUT;
        });
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean badInput = ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                    || ex instanceof IOException || ex instanceof UncheckedIOException;
            cmd.getErr().println("dl4j-quant: " + (badInput ? "" : "internal error: ") + ModelFiles.oneLine(ex));
            return badInput ? BAD_INPUT : INTERNAL_ERROR;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "missing command: give quantize, evaluate or compare (see --help)");
    }
}
