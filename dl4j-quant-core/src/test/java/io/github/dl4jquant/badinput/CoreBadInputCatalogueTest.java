package io.github.dl4jquant.badinput;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Runs {@link CoreBadInputs} row by row and keeps its table in {@code docs/bad-input-catalogue.md} current. */
class CoreBadInputCatalogueTest {

    private static final List<BadInputCase> CASES = CoreBadInputs.cases();

    @TestFactory
    Stream<DynamicTest> everyRowThrowsWhatItPromisesAndLeavesTheModelAlone() {
        return CatalogueRunner.tests(CASES);
    }

    @Test
    void theDocumentListsExactlyTheseRows() throws IOException {
        assertTrue(CASES.size() >= 50, "the catalogue has " + CASES.size() + " rows");
        CatalogueDocument.assertSectionIsCurrent("CORE", CatalogueDocument.table(CASES));
    }
}
