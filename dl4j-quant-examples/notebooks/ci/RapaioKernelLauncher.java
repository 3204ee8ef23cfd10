import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.LogManager;
import org.rapaio.jupyter.kernel.MainApp;
import org.rapaio.jupyter.kernel.channels.Channels;
import org.rapaio.jupyter.kernel.core.ConnectionProperties;
import org.rapaio.jupyter.kernel.core.Transform;

/**
 * Starts rapaio-jupyter-kernel 3.0.1 as its {@code MainApp} does, minus a start-up race that hung 12 of 39 kernel
 * starts on the 2-core CI machine.
 *
 * <p>{@code Channels.connect} binds the sockets and starts the shell thread before it creates its handler map. A
 * {@code kernel_info_request} arriving in between makes the shell thread die on a NullPointerException, and the kernel
 * never answers. Giving the map a value before {@code connect} turns that early request into an "unhandled message";
 * Jupyter re-sends {@code kernel_info_request} every second, and the next one is answered.
 * <pre>{@code
 * java -cp rapaio-jupyter-kernel-3.0.1.jar RapaioKernelLauncher.java /path/to/connection.json
 * }</pre>
 */
public final class RapaioKernelLauncher {

    private RapaioKernelLauncher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: RapaioKernelLauncher CONNECTION_FILE");
        }
        LogManager.getLogManager().readConfiguration(
                MainApp.class.getClassLoader().getResourceAsStream("logging.properties"));
        ConnectionProperties props = Transform.fromJson(Files.readString(Path.of(args[0])), ConnectionProperties.class);
        Channels channels = new Channels(props);
        Field handlers = Channels.class.getDeclaredField("handlers");
        handlers.setAccessible(true);
        handlers.set(channels, new ConcurrentHashMap<>());
        channels.connect(MainApp.kernel);
        channels.joinUntilClose();
    }
}
