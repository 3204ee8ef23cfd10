package io.github.dl4jquant.examples.cli;

import io.github.dl4jquant.examples.Agreement;
import io.github.dl4jquant.examples.LoadedModel;
import io.github.dl4jquant.examples.ModelFiles;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code compare}: accuracy of an fp32 model and its quantized version, their top-1 agreement and the largest output
 * difference.
 *
 * <pre>{@code
 * dl4j-quant compare --fp32 mlp.zip --quantized mlp-int8.zip --data /usr/share/datasets/fashion-mnist
 * }</pre>
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Accuracy of both models, top-1 agreement and max output difference on labelled data.")
final class CompareCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--fp32", required = true, description = "the fp32 DL4J model zip")
    Path fp32;

    @Option(names = "--quantized", required = true, description = "the quantized model zip")
    Path quantized;

    @Option(names = "--data", required = true,
            description = "IDX directory (t10k split preferred), IDX images file, or CSV with the label last")
    Path data;

    @Override
    public Integer call() {
        LoadedModel a = ModelFiles.load(fp32);
        LoadedModel b = ModelFiles.load(quantized);
        CliData d = CliData.labelled(data);
        Agreement agreement = Agreement.of(ModelInputs.output(a, d), ModelInputs.output(b, d),
                ModelInputs.oneHot(a, d));
        spec.commandLine().getOut().println(fp32 + " vs " + quantized + " on " + d.source() + ": " + agreement);
        return 0;
    }
}
