package io.github.dl4jquant.graph;

import io.github.dl4jquant.QParams;
import io.github.dl4jquant.backendconfig.DTypeConfig;
import io.github.dl4jquant.qconfig.QConfig;

/**
 * A match that will be quantized: its QConfig, the DTypeConfig chosen for it, where its input and output observers
 * sit (tensor names: producing vertex or network input), and its weight qparams (observed on the float weight at
 * prepare time, as PyTorch does at convert time).
 */
record PlannedPattern(PatternMatch match, QConfig qconfig, String qconfigSource, DTypeConfig dtypeConfig,
                      String inputTensor, String outputTensor, QParams weightQParams) {

    boolean dynamic() {
        return dtypeConfig.isDynamic();
    }
}
