package io.github.dl4jquant.kernel;

import org.bytedeco.dnnl.global.dnnl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps oneDNN off its AMX kernels, before anything in this package creates a oneDNN primitive. ND4J 1.0.0-M2.1
 * bundles oneDNN 2.5, whose AMX int8 kernels (Sapphire Rapids and later, {@code amx_int8} in /proc/cpuinfo) corrupt
 * the JVM's native heap: on such a CPU the first dynamic int8 product aborted the JVM with glibc's "malloc():
 * unaligned tcache chunk detected" or "corrupted size vs. prev_size" (measured here on a Xeon with amx_int8, Linux
 * 6.18), while the same products with the ISA capped at AVX512_CORE_VNNI pass every test. The cap costs nothing on CPUs
 * without AMX, and a user's own {@code DNNL_MAX_CPU_ISA} / {@code ONEDNN_MAX_CPU_ISA} is left alone.
 *
 * <pre>{@code
 * DnnlCpuIsa.capBelowAmx();          // idempotent; Dnnl and the ND4J matmul kernel call it first
 * DnnlCpuIsa.amxUncapped();          // true only when oneDNN was initialised with AMX before the cap could apply
 * }</pre>
 */
final class DnnlCpuIsa {
    private static final Logger LOG = LoggerFactory.getLogger(DnnlCpuIsa.class);
    private static final boolean AMX_UNCAPPED = applyCap();

    private DnnlCpuIsa() {
    }

    /** Applies the cap once (the first call does the work). */
    static void capBelowAmx() {
        // the class initialiser did the work
    }

    /**
     * True when oneDNN runs its AMX kernels anyway: it had chosen its ISA before this class loaded (oneDNN fixes it on
     * first use) and the user set no cap. The int8 kernels must then not use oneDNN.
     */
    static boolean amxUncapped() {
        return AMX_UNCAPPED;
    }

    private static boolean applyCap() {
        if (System.getenv("DNNL_MAX_CPU_ISA") != null || System.getenv("ONEDNN_MAX_CPU_ISA") != null) {
            return false;
        }
        try {
            int status = dnnl.dnnl_set_max_cpu_isa(dnnl.dnnl_cpu_isa_avx512_core_vnni);
            if (status == dnnl.dnnl_success) {
                LOG.debug("oneDNN ISA capped at AVX512_CORE_VNNI (effective: {})", dnnl.dnnl_get_effective_cpu_isa());
                return false;
            }
            boolean amx = (dnnl.dnnl_get_effective_cpu_isa() & dnnl.dnnl_cpu_isa_avx512_core_amx)
                    == dnnl.dnnl_cpu_isa_avx512_core_amx;
            if (amx) {
                LOG.warn("oneDNN chose its AMX kernels before dl4j-quant could cap them; its int8 kernels corrupt "
                        + "memory in ND4J M2.1's oneDNN 2.5, so dl4j-quant computes int8 products without oneDNN "
                        + "(exact, slower). Start the JVM with DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI in the environment "
                        + "to use oneDNN's VNNI kernels");
            }
            return amx;
        } catch (Throwable t) {   // oneDNN missing: Dnnl reports that itself
            return false;
        }
    }
}
