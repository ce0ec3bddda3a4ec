import NIOCore
@testable import SwarmSession
import Testing

@Test func aSourceIsWarnedAboutOncePerInterval() {
    var warnings = RepeatedWarnings(interval: .minutes(10))
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    let said1 = warnings.shouldWarn(about: "10.0.0.1", now: start)
    #expect(said1)
    for second in 1..<600 {
        let again = warnings.shouldWarn(about: "10.0.0.1", now: start + .seconds(Int64(second)))
        #expect(!again)
    }
    let said2 = warnings.shouldWarn(about: "10.0.0.2", now: start)
    #expect(said2)
    let said3 = warnings.shouldWarn(about: "10.0.0.1", now: start + .minutes(10))
    #expect(said3)
}

@Test func manySourcesDoNotGrowWithoutBound() {
    var warnings = RepeatedWarnings(interval: .minutes(10), capacity: 100)
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    for n in 0..<10_000 {
        let first = warnings.shouldWarn(about: "host\(n)", now: now + .nanoseconds(Int64(n)))
        #expect(first)
    }
    // The newest are remembered.
    let said4 = warnings.shouldWarn(about: "host9999", now: now + .seconds(1))
    #expect(!said4)
}
