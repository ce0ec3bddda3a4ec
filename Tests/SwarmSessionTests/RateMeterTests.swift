@testable import SwarmSession
import Testing

@Test func aRateDecaysToExactlyZeroWhenTheSenderStops() {
    var meter = RateMeter()
    meter.add(400_000_000)
    meter.tick(seconds: 0.25)
    #expect(meter.bytesPerSecond > 0)
    // 20 s of silence at 4 ticks a second is where `swarmfs download` used to trap; go well past it.
    for _ in 0..<4_000 { meter.tick(seconds: 0.25) }
    #expect(meter.bytesPerSecond == 0)
    #expect(meter.total == 400_000_000)
}

@Test func aSlowButSteadySenderKeepsARate() {
    var meter = RateMeter()
    for _ in 0..<100 {
        meter.add(100)
        meter.tick(seconds: 0.25)
    }
    #expect(abs(meter.bytesPerSecond - 400) < 1)
}

@Test func aMeterNeverTrapsOnHugeCountsOrOddIntervals() {
    var meter = RateMeter()
    meter.add(.max)
    meter.add(.max)
    meter.tick(seconds: 0)
    meter.tick(seconds: .nan)
    meter.tick(seconds: 1e-300)
    #expect(meter.bytesPerSecond.isFinite)
    #expect(meter.total == .max)
}
