@testable import SwarmCLI
import Testing

@Test func figuresFromAnyDoubleNeverTrap() {
    #expect(DisplayFigures.clampedInt64(.nan) == 0)
    #expect(DisplayFigures.clampedInt64(-5) == 0)
    #expect(DisplayFigures.clampedInt64(.infinity) == .max)
    #expect(DisplayFigures.clampedInt64(1e300) == .max)
    #expect(DisplayFigures.clampedInt64(9_223_372_036_854_775_808.0) == .max)
    #expect(DisplayFigures.clampedInt64(1234.9) == 1234)
    #expect(DisplayFigures.rate(.greatestFiniteMagnitude).hasSuffix("/s"))
}

@Test func noETAForARateThatIsGoneOrUselesslySmall() {
    // The rate a geometric decay sticks at (a denormal), and the tiny ones before it: the old
    // progress line trapped on Int(remaining / rate).
    for rate in [Double.leastNonzeroMagnitude, 1e-300, 1.7e-10, 0, -1, .nan] {
        #expect(DisplayFigures.eta(remaining: 1 << 30, rate: rate) == nil)
    }
    #expect(DisplayFigures.eta(remaining: .max, rate: 1) == nil)
    #expect(DisplayFigures.eta(remaining: 0, rate: 1000) == nil)
}

@Test func etaReadsAsMinutesOrHours() {
    #expect(DisplayFigures.eta(remaining: 90_000, rate: 1000) == "ETA 1:30")
    #expect(DisplayFigures.eta(remaining: 3_909_000, rate: 1000) == "ETA 1:05:09")
    #expect(DisplayFigures.eta(remaining: 1, rate: 1e12) == "ETA 0:01")
}
