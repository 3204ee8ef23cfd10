import java.net.URL;
import org.rapaio.jupyter.kernel.MainApp;
import org.rapaio.jupyter.kernel.channels.LoopThread;

/**
 * Starts rapaio-jupyter-kernel 3.0.1 exactly as its {@code MainApp} does, after checking that the channel loop threads
 * come from {@code ci/patch} (see its {@code LoopThread}: 3.0.1's own let a thread end before its first pass), so
 * that a classpath in the wrong order fails here, loudly, instead of bringing back the flaky start.
 * <pre>{@code
 * java -cp launcher-and-patch-classes:rapaio-jupyter-kernel-3.0.1.jar RapaioKernelLauncher /path/to/connection.json
 * }</pre>
 */
public final class RapaioKernelLauncher {

    private RapaioKernelLauncher() {
    }

    public static void main(String[] args) throws Exception {
        URL loopThreadSource = LoopThread.class.getProtectionDomain().getCodeSource().getLocation();
        if (loopThreadSource.getPath().endsWith(".jar")) {
            throw new IllegalStateException("RapaioKernelLauncher: LoopThread was loaded from " + loopThreadSource
                    + " instead of notebooks/ci/patch; put the compiled patch before the kernel jar on the classpath");
        }
        MainApp.main(args);
    }
}
