package io.github.dl4jquant.examples.cli;

import io.github.dl4jquant.examples.Agreement;
import io.github.dl4jquant.examples.LoadedModel;
import io.github.dl4jquant.examples.ModelFiles;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code evaluate}: top-1 accuracy of a model on labelled data.
 *
 * <pre>{@code
 * dl4j-quant evaluate --model mlp-int8.zip --data /usr/share/datasets/fashion-mnist
 * }</pre>
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Top-1 accuracy of a model on labelled IDX (directory or images file) or CSV data.")
final class EvaluateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "DL4J model zip")
    Path model;

    @Option(names = "--data", required = true,
            description = "IDX directory (t10k split preferred), IDX images file, or CSV with the label last")
    Path data;

    @Override
    public Integer call() {
        LoadedModel m = ModelFiles.load(model);
        CliData d = CliData.labelled(data);
        double accuracy = Agreement.accuracy(ModelInputs.output(m, d), ModelInputs.oneHot(m, d));
        spec.commandLine().getOut().printf(Locale.ROOT, "%s (%s): accuracy %.2f%% on %d examples of %s%n", model,
                m.kind(), 100 * accuracy, d.numExamples(), d.source());
        return 0;
    }
}
