package io.github.dl4jquant.examples.cli;

/**
 * What a catalogue row of the command-line tool expects: the tool ended with exit code {@value QuantCli#BAD_INPUT}
 * (bad input), and its one line on stderr is this exception's message.
 */
final class ExitCode2 extends Exception {

    ExitCode2(String stderr) {
        super(stderr);
    }
}
