// Runs the JVM binding tests and prints the closing line `kotlin: N passed, N failed`.
package fr.carnet.core.test

import kotlin.system.exitProcess
import org.junit.internal.TextListener
import org.junit.runner.JUnitCore

fun main() {
    val core = JUnitCore()
    core.addListener(TextListener(System.out))
    val result = core.run(CarnetTest::class.java)
    val failed = result.failureCount
    println("kotlin: ${result.runCount - failed} passed, $failed failed")
    exitProcess(if (result.wasSuccessful() && result.runCount > 0) 0 else 1)
}
