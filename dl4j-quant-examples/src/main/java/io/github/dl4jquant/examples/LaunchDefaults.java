package io.github.dl4jquant.examples;

/**
 * System properties the command-line entry points set before ND4J loads, each only when the user has not set it:
 * the oneDNN build of ND4J (the only one with int8 matmul), and slf4j-simple levels that keep ND4J's start-up banner
 * off the console.
 *
 * <pre>{@code
 * public static void main(String[] args) {
 *     LaunchDefaults.apply(true);      // first line of main, before any ND4J class is touched
 *     ...
 * }
 * }</pre>
 */
public final class LaunchDefaults {

    /** The JavaCPP property that selects ND4J's native build flavour. */
    public static final String PLATFORM_EXTENSION = "org.bytedeco.javacpp.platform.extension";
    /** The oneDNN flavour the poms depend on; oneDNN picks AVX-512/VNNI at run time. */
    public static final String ONEDNN = "-onednn-avx2";

    private LaunchDefaults() {
    }

    /**
     * Sets the defaults that are not set yet.
     *
     * @param libraryProgress true to keep dl4j-quant's own INFO lines (calibration progress, conversion summary)
     */
    public static void apply(boolean libraryProgress) {
        setIfAbsent(PLATFORM_EXTENSION, ONEDNN);
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        if (libraryProgress) {
            setIfAbsent("org.slf4j.simpleLogger.log.io.github.dl4jquant", "info");
        }
    }

    private static void setIfAbsent(String property, String value) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, value);
        }
    }
}
