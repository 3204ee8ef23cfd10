package io.github.dl4jquant.spark;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfig;
import io.github.dl4jquant.graph.PrepareCustomConfig;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigMapping;
import java.io.Serializable;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/**
 * What an executor needs to prepare the same {@link PreparedModel} as the driver: the fp32 model's bytes and the
 * QConfigMapping and BackendConfig as JSON (observer factories and backends are rebuilt by name, so observers and
 * fuser methods of your own must be registered on the executors too). Broadcast once per {@link SparkCalibration}.
 */
final class CalibrationRecipe implements Serializable {
    private static final long serialVersionUID = 1L;

    private final ModelBytes model;
    private final String qconfigMappingJson;
    private final String backendConfigJson;
    private final boolean strict;

    CalibrationRecipe(Model model, QConfigMapping mapping, BackendConfig backend, PrepareCustomConfig options) {
        this.model = ModelBytes.of(model);
        this.qconfigMappingJson = mapping.toJson();
        this.backendConfigJson = backend.toJson();
        this.strict = options.isStrict();
    }

    ModelBytes model() {
        return model;
    }

    /** The executor's copy: prepared from the shipped model and configs exactly as the driver prepared its own. */
    PreparedModel prepare() {
        return prepare(model.restore());
    }

    PreparedModel prepare(Model fp32) {
        QConfigMapping mapping = QConfigMapping.fromJson(qconfigMappingJson);
        BackendConfig backend = BackendConfig.fromJson(backendConfigJson);
        PrepareCustomConfig options = PrepareCustomConfig.defaults().withStrict(strict);
        return fp32 instanceof MultiLayerNetwork
                ? Quantizer.prepare((MultiLayerNetwork) fp32, mapping, backend, options)
                : Quantizer.prepare((ComputationGraph) fp32, mapping, backend, options);
    }
}
