package io.github.dl4jquant.spark;

import io.github.dl4jquant.Quantizer;
import io.github.dl4jquant.backendconfig.BackendConfigs;
import io.github.dl4jquant.data.FashionMnist;
import io.github.dl4jquant.examples.ExampleData;
import io.github.dl4jquant.examples.FashionMlp;
import io.github.dl4jquant.graph.CalibrationState;
import io.github.dl4jquant.graph.PreparedModel;
import io.github.dl4jquant.qconfig.QConfigMapping;
import io.github.dl4jquant.qconfig.QConfigs;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Real Fashion-MNIST rows (the Debian set, or the examples' embedded subset) and the examples' MLP 784-256-128-10
 * trained for one epoch on the first 6,000 training images: trained once per test JVM.
 */
final class FashionFixture {
    static final int CALIBRATION_ROWS = 8000;
    static final int TEST_ROWS = 2000;

    private static FashionFixture instance;

    final DataSet calibration;
    final DataSet test;
    final ComputationGraph fp32;
    final ComputationGraph int8;

    private FashionFixture() {
        ExampleData data = ExampleData.load();
        DataSet train = data.train();
        DataSet testSet = data.test();
        calibration = rows(train, 0, Math.min(CALIBRATION_ROWS, train.numExamples()));
        test = rows(testSet, 0, Math.min(TEST_ROWS, testSet.numExamples()));
        fp32 = FashionMlp.build();
        fp32.fit(FashionMnist.iterator(rows(train, 0, Math.min(6000, train.numExamples())), 128));
        PreparedModel prepared = Quantizer.prepare(fp32, QConfigs.getDefaultQConfigMapping("x86"),
                BackendConfigs.getX86BackendConfig());
        int8 = Quantizer.convert(prepared.calibrate(FashionMnist.iterator(calibration, 256)));
    }

    static synchronized FashionFixture get() {
        if (instance == null) {
            instance = new FashionFixture();
        }
        return instance;
    }

    static DataSet rows(DataSet all, int from, int to) {
        return new DataSet(all.getFeatures().get(NDArrayIndex.interval(from, to)).dup(),
                all.getLabels().get(NDArrayIndex.interval(from, to)).dup());
    }

    /** {@code data} cut into DataSets of {@code rows} examples, in order (the last one smaller). */
    static List<DataSet> chunks(DataSet data, int rows) {
        List<DataSet> out = new ArrayList<>();
        for (int from = 0; from < data.numExamples(); from += rows) {
            out.add(rows(data, from, Math.min(data.numExamples(), from + rows)));
        }
        return out;
    }

    /**
     * One JVM doing what the exact Spark calibration does, without Spark: a first pass over {@code data} in batches of
     * {@code batch} for the ranges, then every batch binned into them.
     */
    static PreparedModel twoPassSingleJvm(ComputationGraph fp32, QConfigMapping mapping, DataSet data, int batch) {
        CalibrationState ranges = prepare(fp32, mapping).calibrate(FashionMnist.iterator(data, batch))
                .calibrationState().withEmptyHistogramsOverObservedRanges();
        PreparedModel p = prepare(fp32, mapping);
        p.loadCalibrationState(ranges);
        return p.calibrate(FashionMnist.iterator(data, batch));
    }

    private static PreparedModel prepare(ComputationGraph fp32, QConfigMapping mapping) {
        return Quantizer.prepare(fp32, mapping, BackendConfigs.getX86BackendConfig());
    }
}
