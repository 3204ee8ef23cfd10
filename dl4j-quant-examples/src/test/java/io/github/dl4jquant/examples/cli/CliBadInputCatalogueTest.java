package io.github.dl4jquant.examples.cli;

import io.github.dl4jquant.badinput.CatalogueDocument;
import io.github.dl4jquant.badinput.CatalogueRunner;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/** Runs {@link CliBadInputs} row by row and keeps its table in {@code docs/bad-input-catalogue.md} current. */
class CliBadInputCatalogueTest {

    @TempDir
    Path dir;

    @TestFactory
    Stream<DynamicTest> everyBadCommandEndsWithExitCode2AndOneClearLine() throws IOException {
        return CatalogueRunner.tests(new CliBadInputs(dir).cases());
    }

    @Test
    void theDocumentListsExactlyTheseRows() throws IOException {
        CatalogueDocument.assertSectionIsCurrent("CLI", CatalogueDocument.table(new CliBadInputs(dir).cases()));
    }
}
