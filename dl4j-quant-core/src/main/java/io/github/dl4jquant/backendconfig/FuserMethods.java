package io.github.dl4jquant.backendconfig;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The registry of {@link FuserMethod}s by name, so that {@code "fuser_method": "fuse_dense_activation"} in a JSON
 * config resolves to code. Built in: {@value #FUSE_DENSE_ACTIVATION}.
 *
 * <pre>{@code
 * FuserMethods.register(myFuser);                        // once, at start-up
 * new BackendPatternConfig(Pattern.sequence(DenseLayer.class, DropoutLayer.class))
 *     .setFuserMethod(FuserMethods.get(myFuser.name()));
 * }</pre>
 */
public final class FuserMethods {

    /** (DenseLayer[IDENTITY], ActivationLayer[any]) to a copy of the DenseLayer with the ActivationLayer's activation. */
    public static final String FUSE_DENSE_ACTIVATION = DenseActivationFuser.NAME;

    private static final Map<String, FuserMethod> REGISTRY = new LinkedHashMap<>();

    static {
        register(new DenseActivationFuser());
    }

    private FuserMethods() {
    }

    /**
     * Registers {@code method} under its name. Registering the same instance again is a no-op.
     *
     * @throws IllegalArgumentException if the name is blank or already taken by another instance, since a config
     *     read from JSON would then silently run different code
     */
    public static synchronized void register(FuserMethod method) {
        String name = method == null ? null : method.name();
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("fuser_method: got " + (method == null ? "null" : "a method named '"
                    + name + "'") + "; accepted: a FuserMethod with a non-blank name()");
        }
        FuserMethod existing = REGISTRY.get(name);
        if (existing != null && existing != method) {
            throw new IllegalArgumentException("fuser_method: the name '" + name + "' is already registered to "
                    + existing.getClass().getName() + "; accepted: a name not in " + names());
        }
        REGISTRY.put(name, method);
    }

    /** @throws IllegalArgumentException naming the registered methods when {@code name} is unknown */
    public static synchronized FuserMethod get(String name) {
        FuserMethod method = REGISTRY.get(name);
        if (method == null) {
            throw new IllegalArgumentException("fuser_method: unknown name '" + name + "'; accepted: " + names()
                    + " (register custom ones with FuserMethods.register)");
        }
        return method;
    }

    /** True if {@code method} is the instance registered under its name. */
    public static synchronized boolean isRegistered(FuserMethod method) {
        return method != null && REGISTRY.get(method.name()) == method;
    }

    /** The registered names, sorted. */
    public static synchronized Set<String> names() {
        return new TreeSet<>(REGISTRY.keySet());
    }
}
