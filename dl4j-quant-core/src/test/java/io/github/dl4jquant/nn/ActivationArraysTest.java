package io.github.dl4jquant.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class ActivationArraysTest {
    private static final String WS = "TEST_ACTIVATIONS";
    private static final WorkspaceConfiguration CONF = WorkspaceConfiguration.builder().initialSize(0)
            .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.FIRST_LOOP).build();

    @Test
    void arraysLiveInTheActivationsWorkspaceWithTheStandardDescriptor() {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.builder().with(ArrayType.ACTIVATIONS, WS, CONF).build();
        try (MemoryWorkspace ignored = mgr.notifyScopeEntered(ArrayType.ACTIVATIONS)) {
            INDArray a = ActivationArrays.createUninitialized(mgr, 3, 5);
            INDArray b = ActivationArrays.createUninitialized(mgr, 3, 5);
            INDArray standard = mgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, new long[] {3, 5}, 'c');
            assertTrue(a.isAttached());
            assertEquals(WS, a.data().getParentWorkspace().getId());
            assertArrayEquals(standard.shapeInfoDataBuffer().asLong(), a.shapeInfoDataBuffer().asLong());
            assertArrayEquals(new long[] {3, 5}, a.shape());
            assertArrayEquals(new long[] {5, 1}, a.stride());
            assertEquals('c', a.ordering());
            assertEquals(DataType.FLOAT, a.dataType());
            assertNotEquals(a.data().address(), b.data().address(), "each call gets its own memory");
            a.assign(1f);
            b.assign(2f);
            assertEquals(15f, a.sumNumber().floatValue());
            assertEquals(30f, b.sumNumber().floatValue());
        }
    }

    @Test
    void scopedOutActivationsAreDetachedAsDl4jMakesTheOutputLayers() {
        INDArray a = ActivationArrays.createUninitialized(LayerWorkspaceMgr.noWorkspaces(), 2, 7);
        assertFalse(a.isAttached());
        assertArrayEquals(Nd4j.createUninitialized(DataType.FLOAT, new long[] {2, 7}, 'c').shapeInfoDataBuffer()
                .asLong(), a.shapeInfoDataBuffer().asLong());
        a.assign(3f);
        assertEquals(42f, a.sumNumber().floatValue());
    }

    @Test
    void manyShapesStayCorrectWhenTheCacheIsCleared() {
        for (int rows = 1; rows <= 300; rows++) {
            INDArray a = ActivationArrays.createUninitialized(LayerWorkspaceMgr.noWorkspaces(), rows, 4);
            assertArrayEquals(new long[] {rows, 4}, a.shape());
            assertEquals(rows * 4L, a.length());
        }
    }
}
