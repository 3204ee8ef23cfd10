package io.github.dl4jquant.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link ServingStability}'s checks in {@code mvn verify}, shortened to 20,000 calls (2,000 of the 4096x4096 layer)
 * and 30 reload cycles per model
 * (the README reports a 100,000-call run), in a JVM of its own whose fixed, pre-touched heap leaves only native
 * memory free to move RSS: RSS within 5% and JavaCPP's live native objects (oneDNN's primitives and memories among
 * them) within 1% after warm-up, while serving and while discarded models are replaced.
 */
class ServingStabilityTest {

    @Test
    void nativeMemoryAndLiveNativeObjectsStayFlat() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch",
                "-Dorg.bytedeco.javacpp.platform.extension="
                        + System.getProperty("org.bytedeco.javacpp.platform.extension", ""),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", System.getProperty("java.class.path"), ServingStability.class.getName(), "20000", "30");
        Process run = new ProcessBuilder(command).redirectErrorStream(true).start();
        String report = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(run.waitFor(10, TimeUnit.MINUTES), "ServingStability did not finish:\n" + report);
        System.out.println(report);
        assertEquals(0, run.exitValue(), "ServingStability found memory that does not stay flat:\n" + report);
        assertEquals(4, report.split("-> flat", -1).length - 1, "four phases, each flat:\n" + report);
    }
}
