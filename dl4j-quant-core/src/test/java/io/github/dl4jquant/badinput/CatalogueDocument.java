package io.github.dl4jquant.badinput;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Keeps a section of {@code docs/bad-input-catalogue.md} equal to a catalogue's rows, so the document and the tests
 * cannot drift: the check fails when they differ, and {@code -Dcatalogue.write=true} rewrites the section.
 */
public final class CatalogueDocument {

    /** The document, found from a module directory (the build's working directory) or the repository root. */
    public static final Path FILE = locate();

    private CatalogueDocument() {
    }

    private static Path locate() {
        Path here = Path.of("").toAbsolutePath();
        return Files.isDirectory(here.resolve("docs")) || !Files.exists(here.resolve("../pom.xml"))
                ? here.resolve("docs/bad-input-catalogue.md") : here.resolve("../docs/bad-input-catalogue.md").normalize();
    }

    /** The markdown table of {@code cases}, one row per case, in catalogue order. */
    public static String table(List<BadInputCase> cases) {
        StringBuilder s = new StringBuilder("| # | area | bad input | exception | the message names | and says |\n"
                + "|---:|---|---|---|---|---|\n");
        for (int i = 0; i < cases.size(); i++) {
            BadInputCase c = cases.get(i);
            s.append("| ").append(i + 1).append(" | ").append(c.area()).append(" | ").append(cell(c.name()))
                    .append(" | `").append(c.expected().getSimpleName()).append("` | ").append(quoted(c.names()))
                    .append(" | ").append(quoted(c.fix())).append(" |\n");
        }
        return s.toString();
    }

    private static String quoted(List<String> fragments) {
        return fragments.stream().map(f -> "\"" + cell(f) + "\"").collect(Collectors.joining(", "));
    }

    private static String cell(String text) {
        return text.replace("|", "\\|").replace("\n", " ");
    }

    /**
     * Checks (or with {@code -Dcatalogue.write=true} rewrites) the text between {@code <!-- section:START -->} and
     * {@code <!-- section:END -->}.
     */
    public static void assertSectionIsCurrent(String section, String content) throws IOException {
        String begin = "<!-- " + section + ":START -->\n";
        String end = "<!-- " + section + ":END -->";
        String doc = Files.readString(FILE, StandardCharsets.UTF_8);
        int from = doc.indexOf(begin);
        int to = doc.indexOf(end);
        if (from < 0 || to < from) {
            throw new IllegalStateException(FILE + " lacks the markers " + begin.trim() + " ... " + end);
        }
        String current = doc.substring(from + begin.length(), to);
        if (Boolean.getBoolean("catalogue.write")) {
            Files.writeString(FILE, doc.substring(0, from + begin.length()) + content + doc.substring(to),
                    StandardCharsets.UTF_8);
            return;
        }
        assertEquals(content, current, FILE + " section " + section + " is out of date: run the catalogue test with "
                + "-Dcatalogue.write=true and commit the file");
    }
}
